"""What a message says, in both languages and each platform's shape."""
import json
import re
import string

import pytest

from alerts import message

EVENT = message.Event("health", "CRITICAL", "host-1", 3, ("status_failing", {"before": "OK", "after": "CRITICAL",
                                                                             "names": "api.auth"}),
                      [("api.auth", "CRITICAL", "401: the key is refused")],
                      ["invoke decommission.restore", "invoke rollback --to 2"])


@pytest.mark.parametrize("language, words", [("zh", ["主机", "阶段", "下一步"]), ("en", ["host", "stage", "next"])])
def test_a_message_names_host_stage_change_failing_and_next(language, words):
    title, text = message.text(EVENT, language)
    assert "CRITICAL" in title and "host-1" in title
    for needle in words + ["OK -> CRITICAL", "api.auth", "401: the key is refused", "invoke rollback --to 2"]:
        assert needle in text


@pytest.mark.parametrize("kind, shape", [
    ("dingtalk", lambda b: b["msgtype"] == "markdown" and b["markdown"]["title"]),
    ("wecom", lambda b: b["msgtype"] == "markdown" and "content" in b["markdown"]),
    ("feishu", lambda b: b["msg_type"] == "interactive" and b["timestamp"] == "100" and b["sign"]),
    ("webhook", lambda b: b["failing"][0]["check"] == "api.auth" and b["next"]),
])
def test_each_platform_gets_its_own_shape(kind, shape):
    assert shape(message.body(kind, EVENT, "zh", secret="s", now=100.0))


def test_wecom_content_fits_its_limit():
    long = message.Event("health", "CRITICAL", "h", 3, "x", [("c", "CRITICAL", "很长" * 3000)])
    content = message.body("wecom", long, "zh")["markdown"]["content"]
    assert len(content.encode()) <= message.WECOM_MAX_BYTES


def test_a_body_never_carries_the_signing_secret():
    for kind in ("dingtalk", "wecom", "feishu", "webhook"):
        assert "very-secret-1234" not in json.dumps(message.body(kind, EVENT, "en", secret="very-secret-1234", now=1.0))


def test_every_phrase_is_in_both_languages_with_the_same_values():
    fields = {lang: {key: {f for _, f, _, _ in string.Formatter().parse(text) if f}
                     for key, text in phrases.items()} for lang, phrases in message.PHRASES.items()}
    assert fields["zh"] == fields["en"]


@pytest.mark.parametrize("changed, zh, en", [
    (("status_failing", {"before": "OK", "after": "CRITICAL", "names": "api.auth"}),
     "OK -> CRITICAL；异常：api.auth", "OK -> CRITICAL; not OK: api.auth"),
    (("still", {"after": "CRITICAL", "names": "api.auth"}), "自上条消息以来仍为 CRITICAL：api.auth",
     "still CRITICAL since the last message: api.auth"),
    (("applied", {"n": 2, "name": "shift"}), "阶段 2（shift）已应用并验证通过", "stage 2 (shift) applied and verified"),
    (("decommissioned", {"container": "xiaozhi-local-llm", "gb": "4.40"}), "xiaozhi-local-llm 已下线，释放 4.40 GB",
     "xiaozhi-local-llm decommissioned: 4.40 GB freed"),
])
def test_what_changed_is_said_in_the_channels_language(changed, zh, en):
    event = message.Event("phase", "OK", "h", 2, changed)
    assert zh in message.text(event, "zh")[1] and en in message.text(event, "en")[1]
    english = re.compile(r"\b(not OK|since the last|applied|verified|decommissioned|freed|refused|rolled)\b")
    assert not english.search(message.text(event, "zh")[1])
    assert message.body("webhook", event, "en")["changed"] == en


def test_the_next_commands_carry_their_note_in_the_channels_language():
    event = message.Event("health", "CRITICAL", "h", 3, ("still", {"after": "CRITICAL", "names": "api.auth"}), [], [
        ("invoke decommission.restore", ("copy", {"model": "qwen2:7b", "hours": "2.0", "path": "/q/1"})),
        "invoke rollback --to 2"])
    assert "`invoke decommission.restore` (隔离区中 qwen2:7b 的副本，2.0 小时前保存，位于 /q/1)" in message.text(event, "zh")[1]
    assert "`invoke decommission.restore` (the quarantined copy of qwen2:7b, taken 2.0 h ago, in /q/1)" \
        in message.text(event, "en")[1]
    assert message.body("webhook", event, "zh")["next"] == ["invoke decommission.restore", "invoke rollback --to 2"]
