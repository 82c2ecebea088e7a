"""Keeping the API key out of everything meant for people, logs, diffs and metrics."""
from __future__ import annotations

KEY_PLACEHOLDER = "<redacted: set QWEN_API_KEY or DASHSCOPE_API_KEY>"


def redact(text: str, key: str) -> str:
    return text.replace(key, KEY_PLACEHOLDER) if key else text
