"""What leaves the host in an alert is masked as stdout is: a registered key anywhere in the
payload, Markdown in a quoted value (a server's log line, an error) made inert, and a robot's URL
or secret given with the wrong type never printed in the config error."""
import json

import httpx
import pytest

from adapters import http
from alerts import message, send
from core import alert_settings, secrets
from core.errors import ConfigError

KEY = "sk-alert-leak-0123456789"
LINK = "[点这里修复](http://evil.example/steal) ![x](http://evil.example/p.png) <at>all</at> # heading"


def event(actual: str, changed=("verify_failed", {"n": 2})):
    return message.Event("phase", "CRITICAL", "host-1", 2, changed, [("verify", "CRITICAL", actual)],
                         ["invoke status"])


@pytest.fixture
def captured(monkeypatch):
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content.decode())
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "code": 0})

    real = http.client_for
    monkeypatch.setattr(http, "client_for", lambda url, timeout, **kw: httpx.AsyncClient(
        transport=httpx.MockTransport(handler), timeout=timeout))
    yield bodies
    monkeypatch.setattr(http, "client_for", real)


@pytest.mark.parametrize("kind", alert_settings.KINDS)
@pytest.mark.parametrize("where", ["failing value", "changed text", "phrase value"])
def test_a_registered_key_never_reaches_a_robot(captured, kind, where):
    secrets.register(KEY)
    line = f"初始化组件失败: 401 for api_key={KEY}"
    e = {"failing value": event(line), "changed text": event("x", changed=line),
         "phrase value": event("x", changed=("gate_refused", {"n": 2, "what": line}))}[where]
    channel = alert_settings.Channel(1, kind, "http://127.0.0.1:9/robot", "" if kind == "wecom" else "s3cr3t-sign")
    [delivery] = send.send([channel], e, timeout=2)
    assert delivery.ok and captured
    body = captured[-1]
    assert KEY not in body and json.dumps(KEY)[1:-1] not in body and secrets.KEY_PLACEHOLDER in json.loads(body).__repr__()


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("where", ["failing value", "changed text", "phrase value"])
def test_markdown_in_a_quoted_value_is_inert(language, where):
    e = {"failing value": event(LINK), "changed text": event("x", changed=LINK),
         "phrase value": event("x", changed=("gate_refused", {"n": 2, "what": LINK}))}[where]
    _, text = message.text(e, language)
    quoted = next(line for line in text.splitlines() if "evil.example" in line)
    span = quoted[quoted.index("`[点这里修复]"):]
    assert span.rstrip(")").endswith("`") and span.count("`") == 2, quoted   # one code span holds it all


@pytest.mark.parametrize("value", ["plain words", "qwen2:7b", "stage 2", "4.40"])
def test_plain_values_stay_plain(value):
    assert message.inert(value) == value


@pytest.mark.parametrize("item, field", [
    ({"kind": "dingtalk", "url": ["https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789abcdef"]}, "url"),
    ({"kind": "dingtalk", "url": "https://x/", "secret": {"SEC": "SECabcdef0123456789abcdef0123"}}, "secret"),
    ({"kind": "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789abcdef", "url": "x"}, "kind"),
    ({"kind": "dingtalk", "url": "https://x/", "language": "SECabcdef0123456789abcdef0123"}, "language"),
])
def test_a_config_error_names_the_type_never_the_value(item, field):
    with pytest.raises(ConfigError) as err:
        alert_settings.load({"channels": [item]}, env={})
    assert "abcdef0123456789" not in err.value.message and field in err.value.message
    assert "not shown" in err.value.message


@pytest.mark.parametrize("value, visible", [
    ("dingtalk", True), ("zh", True), ("qwen-plus", True), ("WARNING", True), (30, True), (None, True),
    ("3f2b1c9e-8a7d-4e6f-9b0c-1d2e3f4a5b6c", False), ("Tr0ub4dor-3x-horse.battery/staple", False),
    ("sk-0123456789abcdef", False), ("https://oapi.dingtalk.com/robot/send?access_token=x", False),
    ("SECabcdef01", False), (["a", "b"], False), ({"k": "v"}, False),
])
def test_a_config_value_is_shown_only_when_it_is_a_plain_word(value, visible):
    from core.errors import shown
    assert (shown(value) == repr(value)) is visible
