"""The xiaozhi-server target on the real engine: the emulated upstream server, the Ollama and
DashScope emulators and the real LiteLLM proxy, driven through `invoke` as an operator would,
with a production-like config (no key in any file: the key only in the shell's environment)."""
import concurrent.futures
import json
import re
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from litellm_router import image as router_image
from targets.xiaozhi_server import server_config as sc, stages

from . import endpoints
from .conftest import ROOT, config_variant, invoke, project_resources

KEY = yaml.safe_load((ROOT / "sandbox-xiaozhi.yaml").read_text())["migrate"]["api"]["key"]
ENV = {"QWEN_API_KEY": KEY}
CONFIG = "data/.config.yaml"
CHAT = "POST /compatible-mode/v1/chat/completions"


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, docker_client):
    if not router_image.up_to_date(docker_client):
        pytest.fail(f"image {router_image.TAG} is missing or older than litellm_router/litellm/; "
                    "run `invoke -f sandbox.yaml sandbox.build`")
    data = endpoints.apply(yaml.safe_load((ROOT / "sandbox-xiaozhi.yaml").read_text()),
                           str(tmp_path_factory.mktemp("server") / "xiaozhi-server"))
    del data["migrate"]["api"]["key"]            # production-like: the key only in the environment
    path = tmp_path_factory.mktemp("cfg") / "sandbox-xiaozhi-test.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        invoke(path, "sandbox.up", env=ENV)
        yield path
    finally:
        invoke(path, "sandbox.down", check=False)
        leftovers = project_resources(docker_client, data["migrate"]["project"])
        assert not any(leftovers.values()), f"sandbox.down left {leftovers}"


def folder(cfg) -> Path:
    return Path(yaml.safe_load(cfg.read_text())["migrate"]["deploy_dir"])


def theirs(cfg) -> tuple[bytes, int]:
    path = folder(cfg) / CONFIG
    return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)


def unowned(text: str) -> list[str]:
    """Their file's lines, less what the toolkit owns: its entries' blocks and the values it selects."""
    kept, skipping = [], False
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if skipping and indent > 2:
            continue
        skipping = line.startswith("  Migrate")
        if not skipping and not line.lstrip().startswith(("LLM: ", "llm: ")):
            kept.append(line)
    return kept


def recorded(cfg):
    from core import state
    return state.current_stage(folder(cfg))


def model_whole(cfg, docker_client):
    """The local model back in its store after a decommission (as a pull would put it back)."""
    from sandbox.store import Store, build
    project = yaml.safe_load(cfg.read_text())["migrate"]["project"]
    store = Path(docker_client.volumes.get(f"{project}_ollama").attrs["Mountpoint"]) / "models"
    if Store(store).find("qwen2:7b") is None:
        build(store, size_gb=0.1)


def at(cfg, docker_client, n: int) -> None:
    """The server at stage ``n`` whatever an earlier test left (each test passes alone)."""
    if n < 3:
        model_whole(cfg, docker_client)
    current = recorded(cfg)
    if current is not None and current > n:
        invoke(cfg, "rollback", "--to", str(n), "--yes", env=ENV)
    for step in range(0 if current is None else current + 1, n + 1):
        invoke(cfg, "phase", "--stage", str(step), "--yes", "--force", env=ENV)
    assert recorded(cfg) == n


def chat() -> dict:
    r = httpx.post(endpoints.SERVER + "/_sandbox/chat", json={"text": "你好"}, timeout=60)
    return {"status": r.status_code, **r.json()}


def chats(n: int) -> list[dict]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: chat(), range(n)))


def api_count() -> int:
    return httpx.get(endpoints.API + "/_sandbox/stats").json()["requests"].get(CHAT, 0)


def counts() -> tuple[int, int]:
    return httpx.get(endpoints.LOCAL + "/_sandbox/stats").json()["requests"].get("POST /api/chat", 0), api_count()


def test_sandbox_up_leaves_the_server_as_found_and_stage_0_adopts_it(cfg, docker_client):
    if recorded(cfg) is None:
        d = folder(cfg)
        assert not (d / "docker-compose.migrate.yml").exists() and not (d / "state.json").exists()
        before = theirs(cfg)
        out = invoke(cfg, "phase", "--stage", "0", "--yes", env=ENV).stdout
        assert theirs(cfg) == before, "adopting wrote their config file"
        assert "RESTARTS" not in out and "stage 0 (baseline) applied and verified" in out
    at(cfg, docker_client, 0)
    assert chat()["entry"] == "OllamaLLM"


def test_the_walk_keeps_their_file_and_every_way_back_restores_it_byte_for_byte(cfg, docker_client):
    at(cfg, docker_client, 0)
    seen = {0: theirs(cfg)}
    assert len(unowned(seen[0][0].decode())) > 30 and sum("#" in line for line in unowned(seen[0][0].decode())) >= 4
    for n in (1, 2):
        out = invoke(cfg, "phase", "--stage", str(n), "--yes", env=ENV).stdout
        assert "applied and verified; the server was away" in out, out
        assert n != 1 or "gate server-calls: passed" in out, out
        print(f"stage {n}: " + out.strip().splitlines()[-1])
        seen[n] = theirs(cfg)
        assert chat()["entry"] == stages.selected_for(n, "OllamaLLM")
        assert unowned(seen[n][0].decode()) == unowned(seen[0][0].decode()), "a line of theirs changed"
        assert seen[n][1] == 0o600, "the file that holds the key is private"
    for _ in range(12):   # the gate to the cut-over: a dozen health records at stage 2, none CRITICAL
        done = invoke(cfg, "health", "--json", check=False, env=ENV)
        assert done.returncode == 0, done.stdout
    out = invoke(cfg, "phase", "--stage", "3", "--yes", env=ENV).stdout
    assert "gate history: passed" in out and "decommissioned:" in out, out
    assert unowned((folder(cfg) / CONFIG).read_text()) == unowned(seen[0][0].decode())
    data = sc.load((folder(cfg) / CONFIG).read_text())
    assert sc.selected_llm(data) == stages.API_ENTRY and data["Intent"]["intent_llm"]["llm"] == stages.API_ENTRY
    assert chat()["entry"] == stages.API_ENTRY
    assert invoke(cfg, "health", check=False, env={}).returncode == 0, "cron (no key anywhere) is healthy at 3"
    model_whole(cfg, docker_client)
    for n in (2, 1, 0):
        invoke(cfg, "rollback", "--to", str(n), "--yes", env=ENV)
        assert theirs(cfg) == seen[n], f"the way back to {n} did not restore their file byte for byte"
        assert chat()["entry"] == stages.selected_for(n, "OllamaLLM")


def four_spaces(text: str) -> str:
    """Their file re-indented four spaces a level (the sandbox's has no block sequence: doubling
    every indent keeps its structure)."""
    return "".join(" " * (2 * (len(line) - len(line.lstrip(" ")))) + line.lstrip(" ")
                   for line in text.splitlines(keepends=True))


STYLES = {"4-space": four_spaces, "CRLF": lambda text: text.replace("\n", "\r\n"),
          "4-space CRLF, no final newline": lambda text: four_spaces(text).replace("\n", "\r\n").rstrip("\r\n")}


@pytest.mark.parametrize("style", STYLES)
def test_their_file_in_another_style_walks_0_1_2_0_byte_for_byte(cfg, docker_client, style):
    at(cfg, docker_client, 0)
    path = folder(cfg) / CONFIG
    original, mode = theirs(cfg)
    styled = STYLES[style](original.decode()).encode()
    path.write_bytes(styled)
    newline = b"\r\n" if b"\r\n" in styled else b"\n"
    try:
        out = invoke(cfg, "phase", "--stage", "0", "--yes", env=ENV).stdout
        assert path.read_bytes() == styled, "adopting wrote their config file"
        for n in (1, 2):
            out = invoke(cfg, "phase", "--stage", str(n), "--yes", env=ENV).stdout
            now = path.read_bytes()
            assert now.count(newline) == now.count(b"\n") and (b"\r\n" in now) is (newline == b"\r\n"), \
                f"stage {n}: a line ending changed"
            kept = [line for line in styled.splitlines(keepends=True) if b"OllamaLLM" not in line]
            assert all(line in now or line == styled.splitlines(keepends=True)[-1] for line in kept), \
                f"stage {n}: a line of theirs changed"
            assert "lines of yours unchanged" in out and "operator-own-glm-key" not in out \
                and "sandbox-operator-own-secret" not in out, out
            assert chat()["entry"] == stages.selected_for(n, "OllamaLLM")
        invoke(cfg, "rollback", "--to", "0", "--yes", env=ENV)
        assert path.read_bytes() == styled, f"{style}: the way back to 0 did not give their bytes back"
        assert stat.S_IMODE(path.stat().st_mode) == mode
        assert chat()["entry"] == "OllamaLLM"
        print(f"{style}: 0 -> 1 -> 2 -> 0 kept their file byte for byte ({len(styled)} bytes)")
    finally:
        if recorded(cfg) != 0:
            invoke(cfg, "rollback", "--to", "0", "--yes", env=ENV, check=False)
        path.write_bytes(original)
        path.chmod(mode)


def test_1000_chats_at_the_split_reach_the_api_70_in_100(cfg, docker_client):
    at(cfg, docker_client, 2)
    before = counts()
    replies = chats(1000)
    local, api = (a - b for a, b in zip(counts(), before))
    failed = [r for r in replies if r["status"] != 200]
    print(f"split over 1000 chats through the server and the router: local {local}, API {api} "
          f"({api / 10:.1f}% API); failures {len(failed)}")
    assert not failed, failed[:3]
    # drawn 30/70 per chat: outside 700 +- 60 once in 30,000 runs (+- 40: one in 200)
    assert local + api == 1000 and abs(api - 700) <= 60, (local, api)


def test_with_the_local_model_stopped_no_chat_fails(cfg, docker_client):
    at(cfg, docker_client, 2)
    container = docker_client.containers.get("xiaozhi-local-llm")
    container.stop(timeout=2)
    try:
        before = api_count()
        replies = chats(100)
        served = api_count() - before
        print(f"local model stopped: {sum(r['status'] == 200 for r in replies)}/100 answered, API served {served}")
        assert all(r["status"] == 200 for r in replies), [r for r in replies if r["status"] != 200][:3]
        assert served == 100
    finally:
        container.start()


def test_a_failed_verification_rolls_back_byte_for_byte(cfg, docker_client, tmp_path):
    at(cfg, docker_client, 1)
    before = theirs(cfg)
    files = files_and_times(cfg)
    # A router image that is not on this host is refused before anything changes ...
    missing = config_variant(cfg, tmp_path, **{"xiaozhi_server.router_image": "xiaozhi-litellm:0.0.0-missing"})
    done = invoke(missing, "phase", "--stage", "2", "--yes", check=False, env=ENV)
    assert done.returncode == 2 and "is not on this host" in done.stderr, done.stdout + done.stderr
    assert files_and_times(cfg) == files
    # ... one that is here but is no router starts, never gets healthy, and the move is rolled back.
    broken = config_variant(cfg, tmp_path, **{"xiaozhi_server.router_image": "xiaozhi-sandbox:latest"})
    done = invoke(broken, "phase", "--stage", "2", "--yes", check=False, env=ENV)
    assert done.returncode != 0 and "rolled back" in done.stdout + done.stderr, done.stdout + done.stderr
    assert theirs(cfg) == before
    assert recorded(cfg) == 1 and not (folder(cfg) / "litellm.yaml").exists()
    assert chat()["entry"] == "OllamaLLM"
    assert '"pending"' not in (folder(cfg) / "state.json").read_text()


def files_and_times(cfg) -> dict:
    """Every file in the server's folder (the lock aside, taken by every run) and when it was written."""
    return {p.name: p.stat().st_mtime_ns for p in folder(cfg).iterdir() if p.is_file() and p.name != ".migrate.lock"}


@pytest.mark.parametrize("hostile, words", [
    ("manager-api:\n  url: http://127.0.0.1:8002/xiaozhi/config/\n", "the full deployment is another target"),
    ("LLM: [not, a, mapping\n", "cannot read this file as YAML"),
])
def test_a_file_it_cannot_migrate_is_refused_and_nothing_is_touched(cfg, docker_client, hostile, words):
    at(cfg, docker_client, 0)
    path = folder(cfg) / CONFIG
    original = path.read_bytes()
    path.write_bytes(original + hostile.encode())
    try:
        changed = files_and_times(cfg)
        done = invoke(cfg, "phase", "--stage", "1", "--yes", check=False, env=ENV)
        assert done.returncode != 0 and words in done.stdout + done.stderr, done.stdout + done.stderr
        assert path.read_bytes() == original + hostile.encode()
        assert files_and_times(cfg) == changed
        assert recorded(cfg) == 0
    finally:
        path.write_bytes(original)


def test_a_server_that_cannot_start_on_the_new_config_is_rolled_back_at_once(cfg, docker_client):
    """The server logs `初始化组件失败` on the split stage's entry (a provider that cannot start):
    the move stops as soon as the log says so, not at the end of restart_timeout, and the
    stage before comes back byte for byte with the server answering on it."""
    import time
    at(cfg, docker_client, 1)
    base = folder(cfg) / "docker-compose.yml"
    theirs_before, compose_before = theirs(cfg), base.read_text()
    project = yaml.safe_load(cfg.read_text())["migrate"]["project"]
    argv = ["docker", "compose", "--project-name", project, "--project-directory", str(folder(cfg))]
    base.write_text(compose_before.replace("environment: {SANDBOX_BIND: 0.0.0.0}",
                                           "environment: {SANDBOX_BIND: 0.0.0.0, SANDBOX_FAIL_ENTRY: MigrateRouterLLM}"))
    try:
        subprocess.run(argv + ["up", "-d", "--wait", "xiaozhi-esp32-server"], check=True, capture_output=True)
        start = time.monotonic()
        done = invoke(cfg, "phase", "--stage", "2", "--yes", check=False, env=ENV)
        elapsed = time.monotonic() - start
        out = done.stdout + done.stderr
        print(f"a server that cannot start: rolled back in {elapsed:.1f} s")
        assert done.returncode != 0 and "did not start" in out and "rolled back" in out, out
        assert "only in part" not in out, "the restart onto the backup read the failed run's log: " + out
        log = subprocess.run(["docker", "logs", "xiaozhi-esp32-server"], capture_output=True, text=True).stdout
        after = log[log.rindex("初始化组件失败"):]
        assert after.count("listening on") == after.count(" stopped (") + 1, \
            "a run started by the restart policy was stopped while starting (killed after the stop timeout):\n" + after
        assert elapsed < 60, elapsed
        assert theirs(cfg) == theirs_before and recorded(cfg) == 1
        assert chat()["entry"] == "OllamaLLM"
        checks = {c["name"]: c for c in json.loads(invoke(cfg, "health", "--json", check=False, env=ENV).stdout)["checks"]}
        assert checks["server.llm"]["status"] == "OK", checks["server.llm"]   # the failed run's line is not this run's
    finally:
        base.write_text(compose_before)
        subprocess.run(argv + ["up", "-d", "--wait", "xiaozhi-esp32-server"], capture_output=True)


def device(mac: str = "02:5a:00:00:00:99"):
    """A device with a conversation open: its websocket, hello done, one turn answered."""
    from sandbox.websocket import Client
    conn = Client.open(endpoints.SERVER.replace("http", "ws") + "/xiaozhi/v1/", mac)
    conn.send({"type": "hello", "version": 1, "transport": "websocket"})
    hello = conn.receive()
    conn.send({"session_id": hello["session_id"], "type": "listen", "state": "detect", "text": "你好"})
    while conn.receive().get("state") != "stop":
        pass
    return conn


def started_at(docker_client) -> str:
    return docker_client.api.inspect_container("xiaozhi-esp32-server")["State"]["StartedAt"]


def test_a_restart_waits_for_the_open_conversation_refuses_at_the_deadline_and_force_cuts_it(cfg, docker_client,
                                                                                              tmp_path):
    """Issue 24: a device does not reconnect by itself, so a move restarts the server only when
    no conversation is open: one that stays open past --quiet-wait refuses the move with nothing
    changed; one that ends while it waits lets it through; --force restarts over it."""
    import threading
    from sandbox.websocket import Closed
    at(cfg, docker_client, 0)
    before, since = theirs(cfg), started_at(docker_client)
    talking = device()
    try:
        plan = invoke(cfg, "phase", "--stage", "1", "--dry-run", env=ENV).stdout
        assert "1 conversation(s) open now; it waits for quiet" in plan, plan
        done = invoke(cfg, "phase", "--stage", "1", "--yes", "--quiet-wait", "3", check=False, env=ENV)
        assert done.returncode == 2 and "1 conversation(s) still open after 3 s" in done.stdout + done.stderr, \
            done.stdout + done.stderr
        assert theirs(cfg) == before and started_at(docker_client) == since and recorded(cfg) == 0
        # the conversation ends while the move waits (its gates before the wait take 1-2 s, more
        # under load: 10 s leaves room)
        threading.Timer(10, talking.close).start()
        out = invoke(cfg, "phase", "--stage", "1", "--yes", "--quiet-wait", "60", env=ENV).stdout
        assert "waiting for 1 conversation(s) to end" in out and "applied and verified" in out, out
        assert started_at(docker_client) != since
    finally:
        talking.close()
    invoke(cfg, "rollback", "--to", "0", "--yes", env=ENV)
    cut = device()
    out = invoke(cfg, "phase", "--stage", "1", "--yes", "--quiet-wait", "1", "--force", env=ENV).stdout
    assert "--force: restarting with 1 conversation(s) open" in out and "applied and verified" in out, out
    with pytest.raises((Closed, OSError)):   # its turn was lost with the restart
        cut.send({"type": "listen", "state": "detect", "text": "还在吗"})
        cut.receive()
    cut.close()


def test_a_server_that_takes_20_s_to_start_is_waited_for_and_verified(cfg, docker_client):
    """Issue 24: the real server loads its VAD and ASR models before 8000 answers (tens of seconds
    on a small host). The move waits for it through its restart and verifies it, with no failure."""
    import time
    at(cfg, docker_client, 0)
    base = folder(cfg) / "docker-compose.yml"
    compose_before = base.read_text()
    project = yaml.safe_load(cfg.read_text())["migrate"]["project"]
    argv = ["docker", "compose", "--project-name", project, "--project-directory", str(folder(cfg))]
    slow = compose_before.replace("environment: {SANDBOX_BIND: 0.0.0.0}",
                                  'environment: {SANDBOX_BIND: 0.0.0.0, SANDBOX_STARTUP_S: "20"}')
    assert slow != compose_before
    base.write_text(slow)
    try:
        subprocess.run(argv + ["up", "-d", "--wait", "xiaozhi-esp32-server"], check=True, capture_output=True)
        deadline = time.monotonic() + 60
        while True:                               # its models loaded: 8000 answers
            try:
                if httpx.get(endpoints.SERVER, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the slow server never answered on 8000"
            time.sleep(0.5)
        since = started_at(docker_client)
        start = time.monotonic()
        done = invoke(cfg, "phase", "--stage", "1", "--yes", check=False, env=ENV)
        elapsed = time.monotonic() - start
        out = done.stdout + done.stderr
        print(f"a server that starts in 20 s: the move took {elapsed:.1f} s")
        assert done.returncode == 0 and "stage 1 (validate) applied and verified" in out, out
        assert elapsed >= 20 and started_at(docker_client) != since and recorded(cfg) == 1
        assert re.search(r"the server was away 2\d\.\d s", out), out    # its start-up, to port 8000 answering
        log = subprocess.run(["docker", "logs", "xiaozhi-esp32-server"], capture_output=True, text=True).stdout
        assert log.count("loading models (20 s") >= 2, "the restarted server did not load for 20 s"
        assert chat()["status"] == 200
    finally:
        base.write_text(compose_before)
        subprocess.run(argv + ["up", "-d", "--wait", "xiaozhi-esp32-server"], capture_output=True)
