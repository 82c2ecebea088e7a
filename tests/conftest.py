import os
import socket
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# No test may reach a public host: anything that reads the production URL gets loopback.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
for variable in ("QWEN_API_KEY", "DASHSCOPE_API_KEY"):
    os.environ.pop(variable, None)


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
