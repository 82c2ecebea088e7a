"""The real LiteLLM proxy (built locally from pinned wheels) as the xiaozhi-server target's router,
with the config the toolkit renders, between the Ollama and DashScope emulators: at 30/70 the API
gets 70 +- 4% of 2000 chats (counted at the emulators; the shuffle is random: see N), no chat
retried, and with the local model stopped, no chat fails (retries, then the
API alone)."""
import concurrent.futures
import subprocess

import httpx
import pytest
import yaml

from litellm_router import image as router_image
from litellm_router import router

from . import endpoints
from ..conftest import free_port
from .conftest import ROOT, project_resources

KEY = yaml.safe_load((ROOT / "sandbox.yaml").read_text())["migrate"]["sandbox"]["key"]
MASTER = "sk-router-test-master"
IMAGE = yaml.safe_load((ROOT / "sandbox.yaml").read_text())["migrate"]["sandbox"]["image"]
CHAT = "POST /compatible-mode/v1/chat/completions"


def compose_file(config_path, ports) -> str:
    health = lambda url: ["CMD", "python3", "-c", f"import urllib.request as u; u.urlopen('{url}', timeout=2)"]  # noqa: E731
    return yaml.safe_dump({"services": {
        "local": {"image": IMAGE, "container_name": None, "ports": [f"127.0.0.1:{ports['local']}:11434"],
                  "command": ["sh", "-c", "python3 -m sandbox.store /models --size-gb 0.01 --if-empty && "
                                          "exec python3 -m sandbox.ollama --port 11434"],
                  "environment": {"OLLAMA_MODELS": "/models"},
                  "healthcheck": {"test": health("http://127.0.0.1:11434/api/version"), "interval": "2s", "retries": 30}},
        "dashscope": {"image": IMAGE, "ports": [f"127.0.0.1:{ports['api']}:18080"],
                      "command": ["python3", "-m", "sandbox.dashscope", "--port", "18080"],
                      "environment": {"SANDBOX_DASHSCOPE_KEY": KEY, "SANDBOX_RPM": "0"},
                      "healthcheck": {"test": ["CMD", "python3", "-c", "import socket; socket.create_connection("
                                               "('127.0.0.1', 18080), 2)"], "interval": "2s", "retries": 30}},
        "router": {"image": router_image.TAG, "ports": [f"127.0.0.1:{ports['router']}:4000"],
                   "volumes": [f"{config_path}:/etc/litellm/config.yaml:ro"],
                   "environment": {"DASHSCOPE_API_KEY": KEY, "LITELLM_MASTER_KEY": MASTER},
                   "depends_on": {"local": {"condition": "service_healthy"}, "dashscope": {"condition": "service_healthy"}},
                   "healthcheck": {"test": health("http://127.0.0.1:4000/health/readiness"), "interval": "2s",
                                   "retries": 60}},
    }}).replace("    container_name: null\n", "")


@pytest.fixture(scope="module")
def routed(tmp_path_factory, docker_client):
    if not router_image.up_to_date(docker_client):
        pytest.fail(f"image {router_image.TAG} is missing or older than litellm_router/litellm/; "
                    "run `invoke -f sandbox.yaml sandbox.build`")
    folder = tmp_path_factory.mktemp("router")
    spec = router.RouterSpec(local=router.Backend("qwen2:7b", "http://local:11434", 30),
                             api=router.Backend("qwen-plus", "http://dashscope:18080/compatible-mode/v1", 30))
    (folder / "config.yaml").write_text(router.render(spec, {"qwen": 70, "local": 30}))
    ports = {name: free_port() for name in ("local", "api", "router")}
    (folder / "docker-compose.yml").write_text(compose_file(folder / "config.yaml", ports))
    project = endpoints.project()
    base = ["docker", "compose", "--project-name", project, "--project-directory", str(folder)]
    try:
        done = subprocess.run(base + ["up", "-d", "--wait", "--wait-timeout", "180"], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr + subprocess.run(base + ["logs", "router"], capture_output=True,
                                                                  text=True).stdout[-3000:]
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, base
    finally:
        subprocess.run(base + ["down", "--volumes", "--timeout", "5"], capture_output=True, timeout=120)
        assert not any(project_resources(docker_client, project).values())


def chats(url: str, n: int) -> list[int]:
    """Each chat's status; 299 for one the proxy answered only after a retry or a fallback (its
    headers say so), which would bend the split."""
    body = {"model": router.GROUP, "stream": True, "messages": [{"role": "user", "content": "你好"}]}

    def one(_):
        try:
            with httpx.Client(timeout=60) as http, http.stream(
                    "POST", url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {MASTER}"}) as r:
                text = "".join(r.iter_text())
                again = {r.headers.get(f"x-litellm-attempted-{h}", "0") for h in ("retries", "fallbacks")} - {"0"}
                return (299 if again and r.status_code == 200 else r.status_code) if "[DONE]" in text else 599
        except httpx.HTTPError:
            return 598
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def counts(urls):
    local = httpx.get(urls["local"] + "/_sandbox/stats").json()["requests"].get("POST /api/chat", 0)
    api = httpx.get(urls["api"] + "/_sandbox/stats").json()["requests"].get(CHAT, 0)
    return local, api


N = 2000   # 70 +- 4 % is 3.9 standard deviations at 2000; at 1000 (2.8) chance alone fails one run in 200,
           # and 3 of 18 runs here fell 4.1-4.9 points off with no retry, fallback or cooldown to explain it


def test_2000_chats_split_70_30_through_the_real_proxy(routed):
    """The proxy alone (the issue's 1000 chats through the emulated server are test_xiaozhi_server's)."""
    urls, _ = routed
    before = counts(urls)
    codes = chats(urls["router"], N)
    local, api = (a - b for a, b in zip(counts(urls), before))
    print(f"split over {N} chats: local {local}, API {api} ({api / N * 100:.1f}% API); failures "
          f"{sum(c != 200 for c in codes)}")
    assert codes.count(200) == N, {c: codes.count(c) for c in set(codes)}   # 299: retried, not the shuffle's
    assert local + api == N and abs(api / N - 0.70) <= 0.04, (local, api)


def test_with_the_local_model_stopped_no_chat_fails(routed):
    urls, base = routed
    subprocess.run(base + ["stop", "--timeout", "2", "local"], check=True, capture_output=True)
    try:
        api = lambda: httpx.get(urls["api"] + "/_sandbox/stats").json()["requests"].get(CHAT, 0)  # noqa: E731
        before = api()
        codes = chats(urls["router"], 100)
        after = api()
        answered = codes.count(200) + codes.count(299)   # retried or fallen back: answered all the same
        print(f"local stopped: {answered}/100 answered, API served {after - before}")
        assert answered == 100, {c: codes.count(c) for c in set(codes)}
        assert after - before == 100
    finally:
        subprocess.run(base + ["start", "local"], capture_output=True)
