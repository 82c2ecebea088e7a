"""``migrate.alerts``: the group-chat robots (DingTalk, WeCom, Feishu) and plain webhooks that hear
about state changes. A robot's URL carries its credential (DingTalk's access_token, WeCom's key,
Feishu's hook id), so URLs are secrets like signing secrets: each may be given in the config, or
named as an environment variable (``url_env``) or a file (``url_file``: owner-only, owned by root
or this user; cron has no environment). Every one found is registered for masking."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from core.errors import ConfigError, shown
from core.secrets import read_private, register

KINDS = ("dingtalk", "wecom", "feishu", "webhook")
LANGUAGES = ("zh", "en")
LEVELS = ("WARNING", "CRITICAL")
CHANNEL_KEYS = ("kind", "url", "url_env", "url_file", "secret", "secret_env", "secret_file", "language",
                "min_status")


@dataclass(frozen=True)
class Channel:
    number: int                      # 1-based, as `alerts.test --channel N` names it
    kind: str
    url: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    language: str = "zh"
    min_status: str = "WARNING"
    problem: str = ""                # why it cannot send now (its URL's variable is unset...): said, not fatal

    @property
    def name(self) -> str:
        return f"#{self.number} {self.kind}"


@dataclass(frozen=True)
class Alerts:
    channels: tuple[Channel, ...] = ()
    remind_after_s: float = 6 * 3600  # a failure that lasts is announced again after this long
    timeout: float = 3.0              # seconds for all channels at once, inside the command's own bound


def load(data: Any, env: Mapping[str, str], where: str = "migrate.alerts") -> Alerts:
    if data is None:
        return Alerts()
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping", where=where, hint="e.g. {channels: [{kind: dingtalk, url_env: ...}]}")
    unknown = sorted(set(data) - {"channels", "remind_after", "timeout"})
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}", where=f"{where}.{unknown[0]}",
                          hint="known here: channels, remind_after, timeout")
    remind = _number(data, "remind_after", where, 60, 30 * 86400, 6 * 3600)
    timeout = _number(data, "timeout", where, 0.2, 60, 3.0)
    items = data.get("channels") or []
    if not isinstance(items, list):
        raise ConfigError("expected a list of channels", where=f"{where}.channels")
    return Alerts(tuple(_channel(item, i + 1, env, f"{where}.channels[{i}]") for i, item in enumerate(items)),
                  remind, timeout)


def _number(data, key, where, low, high, default) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"invalid value {shown(value)}", where=f"{where}.{key}", hint=f"seconds, {low} to {high}")
    return float(value)


def _channel(item, number: int, env: Mapping[str, str], where: str) -> Channel:
    if not isinstance(item, Mapping):
        raise ConfigError(f"expected a mapping, got {shown(item)}", where=where)
    unknown = sorted(set(item) - set(CHANNEL_KEYS))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}", where=f"{where}.{unknown[0]}",
                          hint="known here: " + ", ".join(CHANNEL_KEYS))
    kind = item.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {shown(kind)}", where=f"{where}.kind", hint="one of: " + ", ".join(KINDS))
    language, level = item.get("language", "zh"), item.get("min_status", "WARNING")
    if language not in LANGUAGES:
        raise ConfigError(f"invalid language {shown(language)}", where=f"{where}.language", hint="zh or en")
    if level not in LEVELS:
        raise ConfigError(f"invalid min_status {shown(level)}", where=f"{where}.min_status", hint="WARNING or CRITICAL")
    url, url_problem = _secret(item, "url", env, where, required=True)
    secret, secret_problem = _secret(item, "secret", env, where, required=False)
    if kind == "wecom" and secret:
        raise ConfigError("a WeCom group robot is not signed: its key is in the URL", where=f"{where}.secret",
                          hint="remove the secret")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("the URL is not an http(s) URL", where=f"{where}.url",
                          hint="paste the robot's webhook address as the platform shows it")
    return Channel(number, kind, url, secret, language, level, url_problem or secret_problem)


def _secret(item, name: str, env: Mapping[str, str], where: str, required: bool) -> tuple[str, str]:
    """(value, why it is unavailable): from the config, an environment variable or a private file."""
    given = [k for k in (name, f"{name}_env", f"{name}_file") if item.get(k) not in (None, "")]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} are both set", where=f"{where}.{given[1]}", hint="keep one")
    if not given:
        if required:
            raise ConfigError("missing", where=f"{where}.{name}",
                              hint=f"set {name}, {name}_env (a variable) or {name}_file (an owner-only file)")
        return "", ""
    key, value = given[0], item[given[0]]
    if not isinstance(value, str):
        raise ConfigError(f"invalid value {shown(value)}", where=f"{where}.{key}", hint="a string")
    if key == name:
        found, problem = value.strip(), ""
    elif key.endswith("_env"):
        found = (env.get(value) or "").strip()
        problem = "" if found else f"${value} is not set in this environment (cron has none: use {name}_file)"
    else:
        found, problem = _read_private(value)
    if any(ord(ch) < 32 for ch in found):
        raise ConfigError("holds a control character", where=f"{where}.{key}", hint="one line, no newline inside")
    register(found)
    return found, problem


def _read_private(path: str) -> tuple[str, str]:
    text, problem = read_private(path, 8192)
    return (text or "").strip(), problem
