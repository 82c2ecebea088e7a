"""Emulators run in background workers on 127.0.0.1 with an ephemeral port; each test gets fresh ones."""
import pytest

from sandbox import dashscope, ollama
from sandbox.common import Knobs, start_in_thread
from sandbox.store import build

KEY = "sk-sandbox-test-0123456789"


@pytest.fixture
def store_dir(tmp_path):
    build(tmp_path / "models", size_gb=0.05)
    return tmp_path / "models"


def _run(server):
    start_in_thread(server)
    return server


@pytest.fixture
def ollama_server(store_dir):
    server = _run(ollama.build_server("127.0.0.1", 0, Knobs(), str(store_dir)))
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def dashscope_server():
    server = _run(dashscope.DashScopeServer(("127.0.0.1", 0), Knobs(), KEY, rpm=0))
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()
