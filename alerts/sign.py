"""The robots' signing, as their platforms document it (pure: the time is an argument).

DingTalk custom robot: ``timestamp`` in milliseconds; ``sign`` = base64 of HMAC-SHA256 keyed by
the secret over ``timestamp + "\\n" + secret``, URL-encoded; both as query parameters.
Feishu custom bot: ``timestamp`` in seconds; ``sign`` = base64 of HMAC-SHA256 keyed by
``timestamp + "\\n" + secret`` over an empty message; both in the JSON body.
Both platforms refuse a timestamp more than an hour from their clock."""
from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot's URL with ``timestamp`` and ``sign`` added (unchanged without a secret)."""
    if not secret:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={quote_plus(dingtalk_sign(secret, timestamp_ms))}"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_fields(secret: str, timestamp_s: int) -> dict:
    """What a signed Feishu message adds to its body (nothing without a secret)."""
    return {"timestamp": str(timestamp_s), "sign": feishu_sign(secret, timestamp_s)} if secret else {}
