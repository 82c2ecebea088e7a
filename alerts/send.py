"""Sending one event to every channel at once, bounded by one timeout; each platform's answer
read its own way (DingTalk and WeCom: errcode, Feishu: code, a webhook: its HTTP status). A
failure is an answer, never an exception: the work that sent the alert goes on."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from adapters import http
from alerts import message, sign
from core.alert_settings import Channel
from core.secrets import redact, redact_tree


@dataclass
class Delivery:
    channel: Channel
    ok: bool
    answer: str            # the platform's own words (errcode / code and message), or why none came


def _answer(kind: str, status: int, data) -> tuple[bool, str]:
    if not isinstance(data, dict):
        return 200 <= status < 300 and kind == "webhook", f"HTTP {status}"
    if kind in ("dingtalk", "wecom"):
        code, words = data.get("errcode"), data.get("errmsg", "")
        return code == 0, f"errcode {code} {words}".strip()
    if kind == "feishu":
        code = data.get("code", data.get("StatusCode"))
        return code == 0, f"code {code} {data.get('msg', data.get('StatusMessage', ''))}".strip()
    return 200 <= status < 300, f"HTTP {status}"


async def _one(channel: Channel, event: message.Event, timeout: float) -> Delivery:
    if channel.problem:
        return Delivery(channel, False, f"not sent: {channel.problem}")
    now = time.time()
    url = sign.dingtalk_url(channel.url, channel.secret, int(now * 1000)) if channel.kind == "dingtalk" else channel.url
    payload = redact_tree(message.body(channel.kind, event, channel.language, channel.secret, now))
    try:
        async with http.client_for(url, timeout) as client:
            async with http.failures(f"sending to {channel.name}", url):
                response = await client.post(url, json=payload)
        try:
            data = response.json()
        except ValueError:
            data = None
        ok, words = _answer(channel.kind, response.status_code, data)
        return Delivery(channel, ok and response.status_code < 400, redact(words)[:300])
    except http.HTTPError as exc:
        return Delivery(channel, False, redact(f"{exc.kind}: {exc}")[:300])


async def _all(channels, event, timeout: float) -> list[Delivery]:
    tasks = [asyncio.ensure_future(_one(c, event, timeout)) for c in channels]
    done, pending = await asyncio.wait(tasks, timeout=timeout) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    return [t.result() if t in done else Delivery(c, False, f"timeout: no answer within {timeout:.1f} s")
            for c, t in zip(channels, tasks)]


def send(channels, event: message.Event, timeout: float) -> list[Delivery]:
    """Every channel's delivery, in order; returns within ``timeout`` (and a little)."""
    return http.run(_all(list(channels), event, timeout))
