"""Probe classification and the facts probes keep (no network beyond loopback)."""
import asyncio
import copy
import socket
import time

import pytest
import yaml

from checks import probes, run
from core import config
from adapters.http import HTTPError
from targets.compose_env.health import EXTRA as COMPOSE_ENV

from ...conftest import ROOT


@pytest.mark.parametrize("exc, kind", [
    (HTTPError("dns", "connecting to x: [Errno -2] Name or service not known"), "dns"),
    (HTTPError("tls", "connecting to x: certificate verify failed"), "tls"),
    (asyncio.TimeoutError(), "timeout"),
    (ConnectionRefusedError(111, "refused"), "refused"),
    (socket.gaierror(-3, "Temporary failure in name resolution"), "dns"),
    (ValueError("Expecting value"), "error"),  # an answer that is not JSON
])
def test_classify(exc, kind):
    assert probes.classify(exc) == kind


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:11434", ("127.0.0.1", 11434)), ("https://dashscope.aliyuncs.com/compatible-mode/v1",
                                                         ("dashscope.aliyuncs.com", 443)),
    ("http://xiaozhi-local-llm", ("xiaozhi-local-llm", 80)),
])
def test_host_port(url, expected):
    assert probes.host_port(url) == expected


def test_refused_port_on_loopback():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        facts = asyncio.run(probes.tcp(f"http://127.0.0.1:{port}", 1.0))
    assert facts.open is False and facts.error == "refused"


def test_api_without_key_sends_nothing():
    facts = asyncio.run(probes.api("http://127.0.0.1:9", "qwen-plus", "", 1.0))
    assert facts.auth == "no_key"


def test_container_facts_keep_only_the_drift_variables():
    from checks import stack
    attrs = {"Name": "/xz-llm-service-1",
             "Config": {"Env": ["QWEN_API_KEY=sk-secret", "LLM_PROVIDER_WEIGHTS=qwen:70,local:30",
                                "LLM_MAX_CONCURRENT=20", "VAD_MAX_CONCURRENT=24", "PATH=/bin"]},
             "State": {"Status": "running", "Health": {"Status": "healthy"}, "StartedAt": "t", "Pid": 42}}
    assert stack.drift_env(attrs, "llm-service") == {"LLM_PROVIDER_WEIGHTS": "qwen:70,local:30",
                                                     "LLM_MAX_CONCURRENT": "20"}
    assert stack.drift_env(attrs, "local-llm") == {}
    assert stack.describe(attrs) == {"container": "xz-llm-service-1", "state": "running", "health": "healthy",
                                     "started_at": "t", "pid": 42}


def test_a_hung_name_lookup_holds_neither_the_run_nor_its_exit_past_the_deadline(fake_dns, monkeypatch, tmp_path):
    """asyncio's own lookups run in an executor that asyncio.run waits for: one DNS server that
    does not answer would keep cron's health check running. The run must end on its timeout."""
    fake_dns.update({"api.stuck.example": None, "llm.stuck.example": None})
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    data = copy.deepcopy(yaml.safe_load((ROOT / "defaults.yaml").read_text()))
    data["migrate"]["api"]["probe_url"] = "https://api.stuck.example/compatible-mode/v1"
    data["migrate"]["local_llm"]["probe_url"] = "http://llm.stuck.example:11434"
    data["migrate"]["deploy_dir"] = str(tmp_path)
    settings = config.load(data, env={"QWEN_API_KEY": "sk-test-123456"})
    start = time.perf_counter()
    report = run.run(settings, settings.stage(2), timeout=1.0, extra=COMPOSE_ENV)
    assert time.perf_counter() - start < 1.5
    words = {r.name: r.actual for r in report.results}
    assert "DNS" in words["api.auth"] and "dns" in words["local.port"], words


def test_a_run_inside_a_long_running_process_keeps_its_whole_budget(monkeypatch, tmp_path):
    """`phase` verifies after minutes of work: its health run must not count the process's age
    against the probes (it did, and every slow-but-healthy API failed verification)."""
    from sandbox import dashscope
    from sandbox.common import Knobs, start_in_thread
    server = dashscope.DashScopeServer(("127.0.0.1", 0), Knobs(first_token_delay=0.5), "sk-test-123456", rpm=0)
    start_in_thread(server)
    try:
        monkeypatch.setattr(run, "process_age", lambda: 30.0)
        monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
        data = copy.deepcopy(yaml.safe_load((ROOT / "defaults.yaml").read_text()))
        data["migrate"]["api"]["probe_url"] = f"http://127.0.0.1:{server.server_address[1]}/compatible-mode/v1"
        data["migrate"]["local_llm"]["probe_url"] = "http://127.0.0.1:9"
        data["migrate"]["deploy_dir"] = str(tmp_path)
        settings = config.load(data, env={"QWEN_API_KEY": "sk-test-123456"})
        report = run.run(settings, settings.stage(3), timeout=5.0, extra=COMPOSE_ENV)
        words = {r.name: (r.status.name, r.actual) for r in report.results}
        assert words["api.generate"][0] == "OK", words
        # The health command itself still counts its start-up: 30 s old means no time left.
        late = run.start(settings, settings.stage(3), timeout=5.0, from_process_start=True, extra=COMPOSE_ENV)()
        assert {r.name: r.status.name for r in late.results}["api.generate"] != "OK"
    finally:
        server.shutdown()
        server.server_close()


def test_a_one_off_container_of_the_service_is_not_the_service(monkeypatch, tmp_path):
    """`docker compose run llm-service sh` by the operator, listed after the service's own
    container by the engine: health judges the service's container (the engine's answers faked
    beneath the real reader, adapters/dockerd.py, where one-offs are left out)."""
    from adapters import dockerd
    from checks import stack
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    settings = config.load(data, env={})
    (tmp_path / "docker-compose.yml").write_text("services:\n  llm-service:\n    image: x\n")
    labels = {"service": {"com.docker.compose.service": "llm-service", "com.docker.compose.oneoff": "False"},
              "run": {"com.docker.compose.service": "llm-service", "com.docker.compose.oneoff": "True"}}
    weights = {"service": "qwen:70,local:30", "run": "qwen:0,local:100"}
    asked = []

    async def get(self, path, **params):
        asked.append(path)
        if path == "/containers/json":
            return [{"Id": name, "Labels": labels[name]} for name in ("service", "run")]
        name = path.split("/")[2]
        if name not in labels:
            return None     # the local model's container: not there
        return {"Name": f"/xz-llm-service-{name}", "Config": {"Env": [f"LLM_PROVIDER_WEIGHTS={weights[name]}"],
                                                              "Labels": labels[name]},
                "State": {"Status": "running", "Health": {"Status": "healthy"}}}
    monkeypatch.setattr(dockerd.Engine, "_get", get)
    found = asyncio.run(stack.containers(settings, 1.0))
    llm = found.services["llm-service"]
    assert (found.engine, llm.container, llm.env) == ("ok", "xz-llm-service-service",
                                                      {"LLM_PROVIDER_WEIGHTS": "qwen:70,local:30"})
    assert "/containers/run/json" not in asked, asked     # not even inspected
