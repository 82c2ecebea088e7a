import os
import socket
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Loopback ports for a test's own servers: the benchmarks' helpers, one copy (a server that never
# comes up ends a benchmark with SystemExit, and fails a test the same way).
from benchmarks.common import free_port, wait_listening  # noqa: E402,F401

# No test may reach a public host: anything that reads the production URL gets loopback.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
for variable in ("QWEN_API_KEY", "DASHSCOPE_API_KEY"):
    os.environ.pop(variable, None)


# An operator's own docker-compose.yml as the plan reads it (its services under the roles' names,
# the local LLM's container named as config says), and a .env that already merges both files.
OPERATOR_BASE = """\
services:
  vad: {image: xiaozhi/vad}
  asr: {image: xiaozhi/asr}
  tts: {image: xiaozhi/tts}
  llm-service: {image: xiaozhi/llm-service, depends_on: [local-llm]}
  local-llm: {image: ollama/ollama, container_name: xiaozhi-local-llm}
"""
OPERATOR_DOTENV = "COMPOSE_FILE=/opt/xiaozhi/docker-compose.yml:/opt/xiaozhi/docker-compose.migrate.yml\n"  # defaults.yaml's deploy_dir
OPERATOR_FILES = {"base": OPERATOR_BASE, "dotenv": OPERATOR_DOTENV}


def sandbox_data() -> dict:
    """sandbox.yaml over defaults.yaml, as `invoke -f sandbox.yaml` merges them."""
    import yaml

    def merge(base, over):
        if isinstance(base, dict) and isinstance(over, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in over.items()}}
        return over
    return merge(yaml.safe_load((ROOT / "defaults.yaml").read_text()), yaml.safe_load((ROOT / "sandbox.yaml").read_text()))


@pytest.fixture
def fake_dns(monkeypatch):
    """Made-up names for tests: ``fake_dns[name] = [addresses]`` answers at once, ``= None`` never
    answers (a DNS server that is down). Other names go to the real resolver."""
    names: dict = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        host = host.decode() if isinstance(host, bytes) else host  # anyio passes the name encoded
        if host not in names:
            return real(host, port, *args, **kwargs)
        if names[host] is None:
            time.sleep(5)
            raise socket.gaierror(-3, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in names[host]]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names
