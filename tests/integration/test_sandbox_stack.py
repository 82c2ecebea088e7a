"""`invoke -f sandbox.yaml sandbox.up` brings the seed's stack up healthy on the real engine."""
import concurrent.futures

import httpx
import ollama
import openai
import yaml

from . import endpoints
from .conftest import ROOT, compose_ps, invoke

SANDBOX_KEY = yaml.safe_load((ROOT / "sandbox.yaml").read_text())["migrate"]["sandbox"]["key"]


def test_every_service_is_up_and_healthy(sandbox_up, sandbox_config):
    services = {row["Service"]: row for row in compose_ps(sandbox_config)}
    assert set(services) == {"vad", "asr", "tts", "llm-service", "local-llm", "dashscope", "front"}
    assert not services["llm-service"]["Publishers"] or not any(p.get("PublishedPort") for p in
                                                                services["llm-service"]["Publishers"])
    for name, row in services.items():
        assert row["State"] == "running" and row["Health"] == "healthy", (name, row)
    assert services["local-llm"]["Name"] == "xiaozhi-local-llm"


def test_ports_are_published_on_loopback_only(sandbox_up, docker_client):
    ports = docker_client.containers.get("xiaozhi-local-llm").attrs["HostConfig"]["PortBindings"]
    assert ports == {"11434/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(endpoints.LOCAL_PORT)}]}


def test_local_llm_serves_the_store_built_on_its_volume(sandbox_up):
    client = ollama.Client(host=endpoints.LOCAL)
    assert {m.model for m in client.list().models} == {"qwen2:7b", "qwen2:1.5b"}
    assert client.generate(model="qwen2:7b", prompt="hi", options={"num_predict": 2}).eval_count == 2


def test_dashscope_emulator_answers_with_sandbox_key(sandbox_up):
    api = openai.OpenAI(base_url=endpoints.API_BASE, api_key=SANDBOX_KEY, max_retries=0)
    assert api.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": "hi"}]).choices


def test_services_report_their_stage_0_limits(sandbox_up, docker_client):
    for name, variable, value in [("vad", "VAD_MAX_CONCURRENT", "24"), ("asr", "ASR_MAX_CONCURRENT", "16"),
                                  ("tts", "TTS_MAX_CONCURRENT", "20")]:
        container = docker_client.containers.get(f"{sandbox_up}-{name}-1")
        assert f"{variable}={value}" in container.attrs["Config"]["Env"]


def test_llm_service_splits_1000_requests_by_weight(sandbox_up):
    with httpx.Client(base_url=endpoints.LLM, timeout=30) as http:
        before = http.get("/stats").json()["requests"]

        def one(_):
            r = http.post("/chat", json={"prompt": "你好"})
            r.raise_for_status()
            return r.json()["provider"]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            providers = list(pool.map(one, range(1000)))
        after = http.get("/stats").json()
    share = providers.count("qwen") / 1000
    assert abs(share - 25 / 55) <= 0.03, share
    assert after["requests"]["qwen"] - before["qwen"] == providers.count("qwen")
    assert after["errors"] == {"qwen": 0, "local": 0}


def test_sandbox_up_twice_changes_nothing(sandbox_up, sandbox_config, docker_client):
    started = {c.name: c.attrs["State"]["StartedAt"]
               for c in docker_client.containers.list(filters={"label": f"com.docker.compose.project={sandbox_up}"})}
    invoke(sandbox_config, "sandbox.up")
    again = {c.name: c.attrs["State"]["StartedAt"]
             for c in docker_client.containers.list(filters={"label": f"com.docker.compose.project={sandbox_up}"})}
    assert again == started


def test_status_lists_the_services(sandbox_up, sandbox_config):
    out = invoke(sandbox_config, "sandbox.status").stdout
    assert "xiaozhi-local-llm" in out and "healthy" in out


def test_sandbox_tasks_refuse_a_production_config():
    done = invoke(ROOT / "defaults.yaml", "sandbox.down", check=False)
    assert done.returncode == 2 and "migrate.sandbox" in done.stderr
