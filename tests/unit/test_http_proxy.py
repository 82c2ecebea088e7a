"""Every request of the toolkit ignores the proxy the environment names: the restart wait and the
decommission's delete reach loopback servers directly, as the probes do."""
import http.server
import threading

import pytest

from adapters import http as toolkit_http
from targets.xiaozhi_server import apply

from ..conftest import free_port


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"Server is running"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        do_DELETE = do_GET

        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def dead_proxy(monkeypatch):
    proxy = f"http://127.0.0.1:{free_port()}"     # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)


@pytest.mark.parametrize("call", [
    lambda url: apply._answers(url),                                              # the server's restart wait
    lambda url: toolkit_http.request("DELETE", url + "/api/delete", timeout=5, json={"model": "m"})[0] == 200,
])
def test_an_exported_proxy_is_not_used(server, dead_proxy, call):
    assert call(server)


def test_no_answer_is_an_http_error_of_the_toolkit(dead_proxy):
    with pytest.raises(toolkit_http.HTTPError) as err:
        toolkit_http.request("GET", f"http://127.0.0.1:{free_port()}/", timeout=2)
    assert err.value.kind == "refused"
