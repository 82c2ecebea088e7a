"""`invoke health` against the running sandbox, steered through the emulators' knobs."""
import json
import time

import httpx
import pytest

from sandbox.common import Knobs, start_in_thread
from sandbox.dashscope import DashScopeServer

from . import endpoints
from .conftest import config_variant, invoke

LOCAL_KNOBS = endpoints.LOCAL + "/_sandbox/knobs"
API_KNOBS = endpoints.API + "/_sandbox/knobs"
DEFAULTS = Knobs().as_dict()


@pytest.fixture
def knobs(sandbox_up):
    """Set emulator knobs for one test; always put the defaults back."""
    def set_knobs(url, **values):
        httpx.post(url, json=values, timeout=5).raise_for_status()
    yield set_knobs
    for url in (LOCAL_KNOBS, API_KNOBS):
        httpx.post(url, json=DEFAULTS, timeout=5).raise_for_status()


def health(config, *args):
    done = invoke(config, "health", "--no-record", *args, check=False)
    return done.returncode, done.stdout + done.stderr


def checks_of(output: str) -> dict:
    return {c["name"]: c["status"] for c in json.loads(output[output.index("{"):])["checks"]}


SCENARIOS = [
    # id, local knobs, api knobs, args, expected check statuses, exit code
    ("healthy", {}, {}, ["--stage", "1"], {"local.generate": "OK", "api.auth": "OK", "drift": "OK"}, 0),
    ("local slow", {"first_token_delay": 0.6}, {}, ["--stage", "1"], {"local.generate": "WARNING"}, 1),
    ("local error line", {"error_rate": 1.0}, {}, ["--stage", "1"], {"local.generate": "CRITICAL"}, 2),
    ("api 500", {}, {"error_rate": 1.0}, ["--stage", "1"], {"api.auth": "OK", "api.generate": "CRITICAL"}, 2),
    ("api slow", {}, {"first_token_delay": 1.6}, ["--stage", "1"], {"api.generate": "WARNING"}, 1),
    ("drifted environment", {}, {}, ["--stage", "2"], {"drift": "WARNING", "local.generate": "OK"}, 1),
    ("stage-3 leftovers", {}, {}, ["--stage", "3"],
     {"local.port": "WARNING", "container.xiaozhi-local-llm": "WARNING"}, 1),
]


@pytest.mark.parametrize("local, api, args, expected, code", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_scenarios(sandbox_config, knobs, local, api, args, expected, code):
    if local:
        knobs(LOCAL_KNOBS, **local)
    if api:
        knobs(API_KNOBS, **api)
    rc, out = health(sandbox_config, "--json", *args)
    statuses = checks_of(out)
    for name, status in expected.items():
        assert statuses[name] == status, (name, statuses)
    assert rc == code, out
    # The same exit code in every format:
    assert health(sandbox_config, "--nagios", *args)[0] == code
    assert health(sandbox_config, *args)[0] == code


def test_hang_ends_within_timeout_and_names_the_local_llm(sandbox_config, knobs):
    knobs(LOCAL_KNOBS, hang=True)
    start = time.perf_counter()
    rc, out = health(sandbox_config, "--stage", "1", "--timeout", "2", "--nagios")
    elapsed = time.perf_counter() - start
    assert rc == 2 and "local.model CRITICAL" in out and "timeout" in out
    assert elapsed < 2 + 0.5 + 1.5, elapsed  # + interpreter start-up of the invoke subprocess


def test_bad_key_is_critical_401(sandbox_config, tmp_path, knobs):
    config = config_variant(sandbox_config, tmp_path, **{"api.key": "sk-wrong-key-for-test"})
    rc, out = health(config, "--json", "--stage", "1")
    assert rc == 2 and checks_of(out)["api.auth"] == "CRITICAL" and "401" in out


def test_model_missing_is_critical(sandbox_config, tmp_path, knobs):
    config = config_variant(sandbox_config, tmp_path, **{"local_llm.model": "llama3:8b"})
    rc, out = health(config, "--json", "--stage", "1")
    assert rc == 2 and checks_of(out)["local.model"] == "CRITICAL" and "model missing" in out


def test_throttled_is_warning_429(sandbox_config, tmp_path, knobs):
    key = "sk-throttle-test"
    server = DashScopeServer(("127.0.0.1", 0), Knobs(), key, rpm=1)
    start_in_thread(server)
    try:
        httpx.get(f"http://127.0.0.1:{server.server_address[1]}/compatible-mode/v1/models",
                  headers={"Authorization": f"Bearer {key}"})  # spends the one request of this minute
        config = config_variant(sandbox_config, tmp_path, **{
            "api.probe_url": f"http://127.0.0.1:{server.server_address[1]}/compatible-mode/v1", "api.key": key})
        rc, out = health(config, "--json", "--stage", "1")
    finally:
        server.shutdown()
        server.server_close()
    assert checks_of(out)["api.auth"] == "WARNING" and "429" in out and rc == 1


def test_refused_when_the_local_llm_is_stopped(sandbox_config, docker_client, knobs):
    container = docker_client.containers.get("xiaozhi-local-llm")
    container.stop(timeout=5)
    try:
        rc, out = health(sandbox_config, "--stage", "2")
    finally:
        container.start()
        deadline = time.time() + 60
        while time.time() < deadline:
            container.reload()
            if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                break
            time.sleep(0.5)
    assert rc == 2
    lines = [line for line in out.splitlines() if line.startswith("❌")]
    assert any("local.port" in line and "refused" in line for line in lines), out


def test_key_appears_in_no_output_history_or_metrics(sandbox_config, tmp_path, knobs):
    key = "sk-DISTINCTIVE-9f8e7d6c5b4a"
    config = config_variant(sandbox_config, tmp_path, **{"api.key": key})
    prom = tmp_path / "x.prom"
    outputs = []
    for args in (["--json"], ["--nagios"], [], ["--prom", str(prom)]):
        done = invoke(config, "health", "--stage", "1", *args, check=False)
        outputs += [done.stdout, done.stderr]
    deploy = __import__("yaml").safe_load(config.read_text())["migrate"]["deploy_dir"]
    from pathlib import Path
    history = (Path(deploy) / "health-history.jsonl").read_text()
    assert prom.read_text().count("probe_success") >= 5
    for text in outputs + [history, prom.read_text()]:
        assert key not in text
    assert json.loads(history.splitlines()[-1])["stage"] == 1
