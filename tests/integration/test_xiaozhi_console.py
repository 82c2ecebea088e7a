"""The xiaozhi-console target on the real engine: upstream's full deployment with a real MariaDB
and a real Redis (Debian's, in the locally built image), upstream's schema and seed rows, 10
agents and 30 devices, the manager-api and server emulators; driven through `invoke` as an
operator would, with a production-like config (no key in any file: the key only in the shell's
environment). What happens between a plan and its apply (a console edit) and a move without the
cache invalidation are run in-process, on the same sandbox."""
import concurrent.futures
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from core import config, state
from core.errors import Refused, VerifyFailed
from orchestration import targets as targeting
from targets.xiaozhi_console import plan as planning, tables

from . import endpoints
from .conftest import ROOT, config_variant, invoke, project_resources  # noqa: F401 (config_variant: shared helper)

KEY = yaml.safe_load((ROOT / "sandbox-console.yaml").read_text())["migrate"]["api"]["key"]
ENV = {"QWEN_API_KEY": KEY}
DB, SERVER = "xiaozhi-esp32-server-db", "xiaozhi-esp32-server"
LOCAL, API, ROUTER = "LLM_OllamaLLM", "LLM_MigrateApiLLM", "LLM_MigrateRouterLLM"
CHAT = "POST /compatible-mode/v1/chat/completions"
TOUCHED = ("ai_model_config", "ai_agent", "ai_agent_template")


def merged(base: dict, over: dict) -> dict:
    """Invoke's merge of a -f config over the project's defaults (mappings key by key)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, docker_client):
    data = endpoints.apply(yaml.safe_load((ROOT / "sandbox-console.yaml").read_text()),
                           str(tmp_path_factory.mktemp("console") / "xiaozhi-console"))
    del data["migrate"]["api"]["key"]            # production-like: the key only in the environment
    path = tmp_path_factory.mktemp("cfg") / "sandbox-console-test.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        invoke(path, "sandbox.up", env=ENV)
        yield path
    finally:
        invoke(path, "sandbox.down", check=False)
        leftovers = project_resources(docker_client, data["migrate"]["project"])
        assert not any(leftovers.values()), f"sandbox.down left {leftovers}"


def settings_of(cfg):
    data = merged(yaml.safe_load((ROOT / "defaults.yaml").read_text()), yaml.safe_load(cfg.read_text()))
    return config.load(data, env=ENV)


def folder(cfg) -> Path:
    return Path(yaml.safe_load(cfg.read_text())["migrate"]["deploy_dir"])


def recorded(cfg):
    return state.current_stage(folder(cfg))


def sql(statement: str) -> str:
    """A statement run as the console's user would (inside the database's container)."""
    done = subprocess.run(["docker", "exec", DB, "sh", "-c", 'mariadb --default-character-set=utf8mb4 -N -uroot '
                           '-p"$MYSQL_ROOT_PASSWORD" "$MYSQL_DATABASE" -e "$0"', statement],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def dump() -> bytes:
    """mariadb-dump of the tables a stage touches, as an operator would take one."""
    done = subprocess.run(["docker", "exec", DB, "sh", "-c", 'mariadb-dump --default-character-set=utf8mb4 '
                           '--skip-dump-date --skip-comments --order-by-primary -uroot -p"$MYSQL_ROOT_PASSWORD" '
                           '"$MYSQL_DATABASE" ' + " ".join(TOUCHED)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def started(docker_client) -> str:
    return docker_client.api.inspect_container(SERVER)["State"]["StartedAt"]


def router_state(docker_client) -> str | None:
    """The router's health (None: no router container)."""
    found = docker_client.containers.list(all=True, filters={"label": "com.docker.compose.service=xiaozhi-router"})
    return found[0].attrs["State"].get("Health", {}).get("Status") if found else None


def agents() -> dict[str, str]:
    return dict(line.split("\t") for line in sql("SELECT id, llm_model_id FROM ai_agent").split("\n") if line)


def devices() -> list[tuple[str, str]]:
    return [tuple(line.split("\t")) for line in sql("SELECT mac_address, agent_id FROM ai_device ORDER BY id").split("\n")
            if line]


def chat(mac: str) -> dict:
    r = httpx.post(endpoints.SERVER + "/_sandbox/chat", json={"text": "你好", "mac": mac}, timeout=60)
    return {"status": r.status_code, **r.json()}


def model_whole(cfg, docker_client):
    """The local model back in its store after a decommission (as a pull would put it back)."""
    from sandbox.store import Store, build
    project = yaml.safe_load(cfg.read_text())["migrate"]["project"]
    store = Path(docker_client.volumes.get(f"{project}_ollama").attrs["Mountpoint"]) / "models"
    if Store(store).find("qwen2:7b") is None:
        build(store, size_gb=0.1)


def health_records(cfg, n: int = 12) -> None:
    for _ in range(n):   # the gate to the cut-over: a dozen health records at stage 2, none CRITICAL
        done = invoke(cfg, "health", "--json", check=False, env=ENV)
        assert done.returncode == 0, done.stdout


def at(cfg, docker_client, n: int) -> None:
    """The deployment at stage ``n`` whatever an earlier test left (each test passes alone)."""
    if n < 3:
        model_whole(cfg, docker_client)
    current = recorded(cfg)
    if current is not None and current > n:
        invoke(cfg, "rollback", "--to", str(n), "--yes", env=ENV)
    for step in range(0 if current is None else current + 1, n + 1):
        invoke(cfg, "phase", "--stage", str(step), "--yes", "--force", env=ENV)
    assert recorded(cfg) == n


def test_stage_0_adopts_the_deployment_without_changing_a_row(cfg, docker_client):
    if recorded(cfg) is None:
        before = dump()
        out = invoke(cfg, "phase", "--stage", "0", "--yes").stdout   # no key: stage 0 needs none
        assert "rows: none change" in out and "no restart" in out and "applied and verified" in out, out
        assert dump() == before
    held = state.read(folder(cfg))
    assert held["stage"] == 0 and held["console"]["local_model"] == LOCAL
    assert len(held["console"]["agents"]) == 8 and set(held["console"]["refs"]) == {"Intent_intent_llm",
                                                                                     "Memory_mem_local_short"}
    assert chat("02:5a:00:00:00:00")["entry"] == LOCAL


def test_a_console_edit_between_plan_and_apply_is_refused_and_nothing_is_written(cfg, docker_client):
    at(cfg, docker_client, 1)
    settings = settings_of(cfg)
    target = targeting.load(settings)
    outcome = target.plan_and_gate(settings.stage(2), force=False, backward_ok=False, out=lambda *_: None)
    edited = next(c for c in outcome.plan.sets if c.table == "ai_agent").ids[0]
    sql(f"UPDATE ai_agent SET agent_name = '改名了' WHERE id = '{edited}'")   # someone in the console, now
    before, audit = dump(), len(state.audit_tail(folder(cfg), 1000))
    with pytest.raises(Refused) as refused:
        target.apply(settings.stage(2), outcome, force=False, out=lambda *_: None)
    assert f"row {edited} of ai_agent changed since the plan" in refused.value.what
    assert dump() == before, "a refused move wrote rows"
    held = state.read(folder(cfg))
    assert held["stage"] == 1 and not held.get("pending")
    assert state.audit_tail(folder(cfg), 1)[0]["event"] == "refused" and len(state.audit_tail(folder(cfg), 1000)) > audit
    out = invoke(cfg, "phase", "--stage", "2", "--yes", env=ENV).stdout   # planned again from the rows as they are
    assert "applied and verified" in out and agents()[edited] == ROUTER
    assert router_state(docker_client) == "healthy"


def test_without_the_cache_invalidation_the_answer_is_stale_and_the_move_rolls_back(cfg, docker_client, monkeypatch):
    at(cfg, docker_client, 2)
    for mac, agent in devices():   # every model each device uses is now in manager-api's cache
        chat(mac)
    settings = settings_of(cfg)
    target = targeting.load(settings)
    before = dump()
    monkeypatch.setattr(tables, "invalidate_ids", lambda *args, **kwargs: 0)
    outcome = target.plan_and_gate(settings.stage(3), force=True, backward_ok=False, out=lambda *_: None)
    with pytest.raises(VerifyFailed) as failed:
        target.apply(settings.stage(3), outcome, force=True, out=lambda *_: None)
    assert "stale cache" in failed.value.detail, failed.value.detail
    assert dump() == before and recorded(cfg) == 2
    monkeypatch.undo()
    health_records(cfg)
    out = invoke(cfg, "phase", "--stage", "3", "--yes", env=ENV).stdout   # with the invalidation: verified
    assert "applied and verified" in out and "decommissioned:" in out, out


def test_the_walk_moves_agents_without_a_restart_and_the_rollback_restores_the_rows_byte_for_byte(cfg, docker_client,
                                                                                                   tmp_path):
    at(cfg, docker_client, 0)
    cfg = config_variant(cfg, tmp_path, **{"xiaozhi_console.split": "agents"})   # stage 2: a share of the agents
    baseline, since = dump(), started(docker_client)
    outputs = []
    participants = {a for a, m in agents().items() if m == LOCAL}
    bound = devices()
    for n in (1, 2):
        out = invoke(cfg, "phase", "--stage", str(n), "--yes", env=ENV).stdout
        outputs.append(out)
        assert "applied and verified" in out and "no restart" in out, out
        assert n != 1 or ("gate server-calls: passed" in out and "gate manager-api: passed" in out), out
    # Stage 2 (split: agents): exactly the planned agents, chosen by the stable hash, are on the API.
    held = state.read(folder(cfg))
    chosen = set(held["chosen"])
    assert chosen == set(planning.chosen_agents(participants, 70)) and len(chosen) == round(len(participants) * 0.7)
    assert {a for a, m in agents().items() if m == API} == chosen
    print("stage 2 plan:\n" + "\n".join(line for line in outputs[-1].splitlines() if "split" in line or "agent " in line))
    answered = Counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for (mac, agent), reply in zip(bound, pool.map(lambda d: chat(d[0]), bound)):
            if agent in participants:
                assert reply["entry"] == (API if agent in chosen else LOCAL), (mac, reply)
                answered[reply["entry"]] += 1
    print(f"stage 2 devices: {dict(answered)}")
    assert "already at stage 2, nothing to do" in invoke(cfg, "phase", "--stage", "2", "--yes", env=ENV).stdout
    invoke(cfg, "rollback", "--to", "1", "--yes", env=ENV)
    invoke(cfg, "phase", "--stage", "2", "--yes", env=ENV)
    assert {a for a, m in agents().items() if m == API} == chosen, "a re-apply chose another set"
    health_records(cfg)
    out = invoke(cfg, "phase", "--stage", "3", "--yes", env=ENV).stdout
    outputs.append(out)
    assert "gate history: passed" in out and "decommissioned:" in out, out
    assert all(chat(mac)["entry"] == API for mac, agent in bound if agent in participants)
    # Someone creates an agent on the local model in the console after the cut-over.
    sql("INSERT INTO ai_agent (id, user_id, agent_name, llm_model_id, chat_history_conf) "
        "VALUES ('late0000000000000000000000000001', 1, '新来的', 'LLM_OllamaLLM', 0)")
    done = invoke(cfg, "health", check=False, env=ENV)
    assert done.returncode == 2 and "新来的" in done.stdout and "on the local model, which is gone" in done.stdout, \
        done.stdout
    out = invoke(cfg, "phase", "--stage", "3", "--yes", env=ENV).stdout
    assert "新来的" in out and agents()["late0000000000000000000000000001"] == API
    assert invoke(cfg, "health", env=ENV).returncode == 0
    sql("DELETE FROM ai_agent WHERE id = 'late0000000000000000000000000001'")   # and deletes it again
    model_whole(cfg, docker_client)
    out = invoke(cfg, "rollback", "--to", "0", "--yes", env=ENV).stdout
    outputs.append(out)
    assert "applied and verified" in out, out
    assert dump() == baseline, "the rollback did not put the rows back byte for byte"
    assert started(docker_client) == since, "a move restarted the server"
    assert all(chat(mac)["entry"] == LOCAL for mac, agent in bound if agent in participants)
    # Production-like: the key was only in the environment; none of our files or outputs show it.
    assert "key" not in yaml.safe_load(cfg.read_text())["migrate"]["api"]   # (the emulator's own is in its service)
    for name in (state.STATE, state.AUDIT):
        assert KEY not in (folder(cfg) / name).read_text()
    assert not any(KEY in out for out in outputs)
    rows = list((folder(cfg) / "backups").glob("*/rows/*.json"))   # the API model's row images hold the key
    assert rows and (folder(cfg) / "backups").stat().st_mode & 0o077 == 0
    assert all(saved.stat().st_mode & 0o077 == 0 for saved in rows)


def test_status_words_the_console_and_a_wrong_server_secret_is_refused_before_any_change(cfg, docker_client):
    at(cfg, docker_client, 1)
    out = invoke(cfg, "status", env=ENV).stdout
    assert "agents by LLM:" in out and "matches stage 1" in out, out
    theirs = folder(cfg) / "data/.config.yaml"
    text = theirs.read_text()
    try:
        theirs.write_text(text.replace("secret: ", "secret: wrong-"))
        before = dump()
        done = invoke(cfg, "phase", "--stage", "2", "--yes", check=False, env=ENV)
        assert done.returncode != 0 and dump() == before, done.stdout + done.stderr
        assert "gate manager-api: FAILED" in done.stdout and "401" in done.stdout + done.stderr, done.stdout + done.stderr
    finally:
        theirs.write_text(text)


def test_requests_mode_weighs_each_chat_70_30_through_the_router_and_the_way_back_is_byte_for_byte(cfg, docker_client):
    """split: requests (the default): every moved agent on the router's model config; 1000 chats
    from the 24 devices of the moved agents split by the router; then the cut-over (router gone)
    and the way back to 0, the rows byte for byte."""
    at(cfg, docker_client, 1)
    start = dump()
    out = invoke(cfg, "phase", "--stage", "2", "--yes", env=ENV).stdout
    print("stage 2 plan:\n" + "\n".join(out.splitlines()[:14]))
    assert "split: requests" in out and "healthy before any agent" in out and "applied and verified" in out, out
    assert list(agents().values()).count(ROUTER) == 8 and router_state(docker_client) == "healthy"
    macs = [mac for mac, agent in devices() if agents()[agent] == ROUTER]
    assert len(macs) == 24
    before_api = httpx.get(endpoints.API + "/_sandbox/stats").json()["requests"].get(CHAT, 0)
    before_local = httpx.get(endpoints.LOCAL + "/_sandbox/stats").json()["requests"].get("POST /api/chat", 0)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: chat(macs[i % len(macs)]), range(1000)))
    assert all(r["status"] == 200 and r["entry"] == ROUTER for r in replies), [r for r in replies if r["status"] != 200][:3]
    api = httpx.get(endpoints.API + "/_sandbox/stats").json()["requests"].get(CHAT, 0) - before_api
    local = httpx.get(endpoints.LOCAL + "/_sandbox/stats").json()["requests"].get("POST /api/chat", 0) - before_local
    print(f"1000 chats through the router: local {local} / API {api} ({100 * api / (api + local):.1f}% API)")
    # drawn 30/70 per chat: outside 70% +- 6 once in 30,000 runs (+- 4: one in 200)
    assert api + local >= 1000 and abs(100 * api / (api + local) - 70) <= 6, (local, api)
    out = invoke(cfg, "status", env=ENV).stdout
    assert "matches stage 2" in out and f"{ROUTER} 8" in out, out
    health_records(cfg)
    out = invoke(cfg, "phase", "--stage", "3", "--yes", env=ENV).stdout
    assert "router xiaozhi-router: remove" in out and "applied and verified" in out, out
    assert router_state(docker_client) is None and not (folder(cfg) / "router.env").exists()
    model_whole(cfg, docker_client)
    invoke(cfg, "rollback", "--to", "1", "--yes", env=ENV)
    assert dump() == start, "the way back did not put the rows back byte for byte"
