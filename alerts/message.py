"""What an alert says, in Chinese or English, and each platform's body for it (pure). Every message
names the host, the stage, what changed, the failing checks with their actual values, and the
next command to run."""
from __future__ import annotations

import re
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


# What changed, per language: the commands name a phrase and its values (a value quoted from the
# toolkit, an error's text say, stays as it is).
PHRASES = {
    "zh": {
        "status": "{before} -> {after}",
        "status_failing": "{before} -> {after}；异常：{names}",
        "still": "自上条消息以来仍为 {after}：{names}",
        "applied": "阶段 {n}（{name}）已应用并验证通过",
        "rolled_back_to": "已回退到阶段 {n}（{name}）并验证通过",
        "verify_failed": "阶段 {n} 验证失败，已自动回滚",
        "gate_refused": "检查门拒绝切换到阶段 {n}：{what}",
        "decommissioned": "{container} 已下线，释放 {gb} GB",
        "decommission_refused": "下线被拒绝：{what}",
        "copy": "隔离区中 {model} 的副本，{hours} 小时前保存，位于 {path}",
        "no_copy": "API 故障且本地模型没有隔离副本：先检查密钥和网络",
        "after_pull": "在重新拉取 {model} 之后",
    },
    "en": {
        "status": "{before} -> {after}",
        "status_failing": "{before} -> {after}; not OK: {names}",
        "still": "still {after} since the last message: {names}",
        "applied": "stage {n} ({name}) applied and verified",
        "rolled_back_to": "rolled back to stage {n} ({name}), verified",
        "verify_failed": "stage {n} failed its verification and was rolled back",
        "gate_refused": "a gate refused the move to stage {n}: {what}",
        "decommissioned": "{container} decommissioned: {gb} GB freed",
        "decommission_refused": "the decommission was refused: {what}",
        "copy": "the quarantined copy of {model}, taken {hours} h ago, in {path}",
        "no_copy": "the API fails and no quarantined copy of the local model exists: check the key and the network",
        "after_pull": "after pulling {model} again",
    },
}


def phrase(changed: tuple[str, dict] | str, language: str, markdown: bool = False) -> str:
    """What changed, in ``language``: a (phrase, values) pair, or text as it is. With ``markdown``
    every value (an error's text, a path: words that came from outside) is made inert."""
    if isinstance(changed, str):
        return inert(changed) if markdown and changed else changed
    key, values = changed
    return PHRASES[language][key].format(**({k: inert(str(v)) for k, v in values.items()} if markdown else values))


_PLAIN = re.compile(r"^[\w\s.,:;=%+/-]*$")   # nothing any robot's Markdown acts on


def inert(value: str) -> str:
    """``value`` made inert for the robots' Markdown: words that came from outside (a server log
    line, an error) must not become a link, an image, a heading or a mention. Plain words stay
    as they are; anything else becomes a one-line code span with no backtick inside."""
    flat = " ".join(str(value).split())
    if _PLAIN.match(flat) and "://" not in flat and "www." not in flat.lower():
        return flat
    return "`" + flat.replace("`", "'") + "`"


@dataclass
class Event:
    source: str                     # health, phase, decommission, test
    status: str                     # OK, WARNING, CRITICAL, UNKNOWN
    host: str
    stage: int | None
    changed: tuple[str, dict] | str  # a phrase of PHRASES and its values ("" for a test message)
    failing: list[tuple[str, str, str]] = field(default_factory=list)   # (check, status, actual value)
    next: list = field(default_factory=list)   # commands, most useful first: text, or (text, phrase or None)


def text(event: Event, language: str) -> tuple[str, str]:
    """(title, markdown body)."""
    w = WORDS[language]
    title = f"{MARKS.get(event.status, '')} xiaozhi {w[event.source]}: {event.status} @ {event.host}"
    lines = [f"### {title}", f"- {w['host']}: {inert(event.host)}",
             f"- {w['stage']}: {event.stage if event.stage is not None else '?'}",
             f"- {w['changed']}: {phrase(event.changed, language, markdown=True) or w['test_text']}"]
    if event.failing:
        lines.append(f"- {w['failing']}:")
        lines += [f"  - {MARKS.get(status, '')} `{inert(name).strip('`')}`: {inert(actual)}"
                  for name, status, actual in event.failing]
    if event.next:
        lines.append(f"- {w['next']}:")
        lines += [f"  - {step}" for step in steps(event, language)]
    return title, "\n".join(lines)


def steps(event: Event, language: str) -> list[str]:
    """The next commands as the message shows them, each with its note in ``language``."""
    shown = []
    for step in event.next:
        command, note = _command(step)
        shown.append(f"`{inert(command).strip('`')}`" + (f" ({phrase(note, language, markdown=True)})" if note else ""))
    return shown


def _command(step) -> tuple[str, tuple[str, dict] | None]:
    return (step, None) if isinstance(step, str) else step


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
            "stage": event.stage, "changed": phrase(event.changed, language),
            "failing": [{"check": n, "status": s, "actual": a} for n, s, a in event.failing],
            "next": [_command(step)[0] for step in event.next]}


def _fit(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit - 4].decode(errors="ignore") + "\n..."
