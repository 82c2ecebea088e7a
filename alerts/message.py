"""What an alert says, in Chinese or English, and each platform's body for it (pure). Every message
names the host, the stage, what changed, the failing checks with their actual values, and the
next command to run."""
from __future__ import annotations

from dataclasses import dataclass, field

from alerts import sign

WECOM_MAX_BYTES = 4096   # WeCom's limit on a markdown message's content
MARKS = {"OK": "✅", "WARNING": "⚠️", "CRITICAL": "❌", "UNKNOWN": "❔"}
WORDS = {
    "zh": {"host": "主机", "stage": "阶段", "changed": "变化", "failing": "异常检查", "next": "下一步",
           "health": "健康检查", "phase": "阶段切换", "decommission": "本地模型下线", "test": "测试消息",
           "none": "无", "test_text": "来自 `invoke alerts.test` 的测试消息：能看到这条，说明机器人可用"},
    "en": {"host": "host", "stage": "stage", "changed": "what changed", "failing": "failing checks",
           "next": "next", "health": "health", "phase": "stage move", "decommission": "decommission",
           "test": "test message", "none": "none",
           "test_text": "a test message from `invoke alerts.test`: if you read this, the robot works"},
}


@dataclass
class Event:
    source: str                     # health, phase, decommission, test
    status: str                     # OK, WARNING, CRITICAL, UNKNOWN
    host: str
    stage: int | None
    changed: str                    # in words (already in the channel's language where it matters)
    failing: list[tuple[str, str, str]] = field(default_factory=list)   # (check, status, actual value)
    next: list[str] = field(default_factory=list)                       # commands, most useful first


def text(event: Event, language: str) -> tuple[str, str]:
    """(title, markdown body)."""
    w = WORDS[language]
    title = f"{MARKS.get(event.status, '')} xiaozhi {w[event.source]}: {event.status} @ {event.host}"
    lines = [f"### {title}", f"- {w['host']}: {event.host}",
             f"- {w['stage']}: {event.stage if event.stage is not None else '?'}", f"- {w['changed']}: {event.changed or w['test_text']}"]
    if event.failing:
        lines.append(f"- {w['failing']}:")
        lines += [f"  - {MARKS.get(status, '')} `{name}`: {actual}" for name, status, actual in event.failing]
    if event.next:
        lines.append(f"- {w['next']}:")
        lines += [f"  - `{command}`" for command in event.next]
    return title, "\n".join(lines)


def body(kind: str, event: Event, language: str, secret: str = "", now: float = 0.0) -> dict:
    """The JSON a platform's robot takes for this event (Feishu's signature inside it)."""
    title, markdown = text(event, language)
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _fit(markdown, WECOM_MAX_BYTES)}}
    if kind == "feishu":
        color = {"OK": "green", "WARNING": "orange", "CRITICAL": "red"}.get(event.status, "grey")
        return {**sign.feishu_fields(secret, int(now)), "msg_type": "interactive", "card": {
            "header": {"title": {"tag": "plain_text", "content": title}, "template": color},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": markdown}}]}}
    return {"title": title, "text": markdown, "source": event.source, "status": event.status, "host": event.host,
            "stage": event.stage, "changed": event.changed,
            "failing": [{"check": n, "status": s, "actual": a} for n, s, a in event.failing], "next": event.next}


def _fit(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit - 4].decode(errors="ignore") + "\n..."
