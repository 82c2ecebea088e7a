"""An emulator of the group robots alerts go to: DingTalk's custom robot, WeCom's group robot,
Feishu's custom bot, and a plain JSON webhook. Each checks what its platform documents and
answers in its platform's shape:

- DingTalk ``POST /robot/send?access_token=T[&timestamp=MS&sign=S]``: an unknown token is errcode
  300001; with a secret, a timestamp more than an hour away or a wrong sign (base64 of HMAC-SHA256
  keyed by the secret over ``timestamp\\nsecret``) is errcode 310000; success ``{"errcode":0,"errmsg":"ok"}``.
- Feishu ``POST /open-apis/bot/v2/hook/ID`` with ``timestamp`` (seconds) and ``sign`` in the body
  (base64 of HMAC-SHA256 keyed by ``timestamp\\nsecret`` over nothing): an unknown ID is code 19001,
  a bad sign or stale timestamp code 19021; success ``{"code":0,"msg":"success","data":{}}``.
- WeCom ``POST /cgi-bin/webhook/send?key=K``: an unknown key is errcode 93000; markdown content over
  4096 bytes is errcode 40058; success ``{"errcode":0,"errmsg":"ok"}``.
- ``POST /webhook/NAME``: any JSON object, 200.

``GET /_sandbox/received`` lists what arrived (platform, body, whether it was verified). Robots are
given as ``--dingtalk TOKEN[:SECRET]``, ``--feishu ID[:SECRET]``, ``--wecom KEY`` (repeatable).
Not an upstream API: the signing is checked here exactly as the toolkit computes it, so the
known-vector tests keep both honest."""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import sys
import time
from urllib.parse import parse_qs, urlsplit

from sandbox.common import EmulatorServer, Handler, Knobs, serve

HOUR = 3600


def dingtalk_sign(secret: str, timestamp: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()).decode()


def feishu_sign(secret: str, timestamp: str) -> str:
    return base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


class RobotHandler(Handler):
    prefixes = (("/robot/send", "dingtalk"), ("/open-apis/bot/v2/hook/", "feishu"),
                ("/cgi-bin/webhook/send", "wecom"), ("/webhook/", "webhook"))

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        if method == "GET" and path == "/_sandbox/received":
            with self.server.lock:
                return self.send_json(200, {"received": list(self.server.received)})
        route = next((name for prefix, name in self.prefixes if path.startswith(prefix)), None)
        if method != "POST" or route is None:
            return super()._dispatch(method)
        self._route(method, path.split("/hook/")[0] if route == "feishu" else path, route)

    def _body(self):
        try:
            return self.read_json()
        except Exception:  # noqa: BLE001 - any unreadable body is the platform's "bad request"
            return None

    def _keep(self, platform: str, body, verified: bool, answer: dict) -> None:
        with self.server.lock:
            self.server.received.append({"platform": platform, "path": self.path.split("?")[0], "body": body,
                                         "verified": verified, "answer": answer, "time": time.time()})
        self.send_json(200, answer)   # the platforms answer errors with 200 and a code in the body

    def dingtalk(self):
        query = parse_qs(urlsplit(self.path).query)
        token = (query.get("access_token") or [""])[0]
        body = self._body()
        if token not in self.server.dingtalk:
            return self._keep("dingtalk", body, False, {"errcode": 300001, "errmsg": "token is not exist"})
        secret = self.server.dingtalk[token]
        if secret:
            stamp, sign = (query.get("timestamp") or [""])[0], (query.get("sign") or [""])[0]
            if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > HOUR * 1000:
                return self._keep("dingtalk", body, False, {"errcode": 310000, "errmsg": "invalid timestamp"})
            if not hmac.compare_digest(sign, dingtalk_sign(secret, stamp)):
                return self._keep("dingtalk", body, False, {"errcode": 310000, "errmsg": "sign not match"})
        if not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown", "link", "actionCard"):
            return self._keep("dingtalk", body, False, {"errcode": 40035, "errmsg": "缺少参数 json"})
        return self._keep("dingtalk", body, True, {"errcode": 0, "errmsg": "ok"})

    def feishu(self):
        hook = self.path.split("?")[0].rsplit("/", 1)[-1]
        body = self._body()
        if hook not in self.server.feishu:
            return self._keep("feishu", body, False, {"code": 19001, "msg": "param invalid: incoming webhook access "
                                                                          "token invalid", "data": {}})
        secret = self.server.feishu[hook]
        if secret:
            stamp = str((body or {}).get("timestamp", "")) if isinstance(body, dict) else ""
            sign = str((body or {}).get("sign", "")) if isinstance(body, dict) else ""
            if not stamp.isdigit() or abs(time.time() - int(stamp)) > HOUR or \
                    not hmac.compare_digest(sign, feishu_sign(secret, stamp)):
                return self._keep("feishu", body, False, {
                    "code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time",
                    "data": {}})
        if not isinstance(body, dict) or body.get("msg_type") not in ("text", "post", "interactive", "image",
                                                                      "share_chat"):
            return self._keep("feishu", body, False, {"code": 9499, "msg": "Bad Request", "data": {}})
        return self._keep("feishu", body, True, {"code": 0, "msg": "success", "data": {}})

    def wecom(self):
        key = (parse_qs(urlsplit(self.path).query).get("key") or [""])[0]
        body = self._body()
        if key not in self.server.wecom:
            return self._keep("wecom", body, False, {"errcode": 93000, "errmsg": "invalid webhook url"})
        content = ((body or {}).get("markdown") or {}).get("content", "") if isinstance(body, dict) else ""
        if not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown", "image", "news"):
            return self._keep("wecom", body, False, {"errcode": 40008, "errmsg": "invalid message type"})
        if len(str(content).encode()) > 4096:
            return self._keep("wecom", body, False, {"errcode": 40058, "errmsg": "markdown.content exceed max length "
                                                                                  "4096"})
        return self._keep("wecom", body, True, {"errcode": 0, "errmsg": "ok"})

    def webhook(self):
        body = self._body()
        if self.server.should_fail():
            return self.send_json(500, {"error": "injected failure"})
        if not isinstance(body, dict):
            return self.send_json(400, {"error": "expected a JSON object"})
        with self.server.lock:
            self.server.received.append({"platform": "webhook", "path": self.path, "body": body, "verified": True,
                                         "answer": {"ok": True}, "time": time.time()})
        self.send_json(200, {"ok": True})


class RobotServer(EmulatorServer):
    def __init__(self, address, knobs: Knobs, dingtalk=None, feishu=None, wecom=()):
        super().__init__(address, RobotHandler, knobs)
        self.dingtalk: dict[str, str] = dict(dingtalk or {})   # token -> secret ('' : unsigned)
        self.feishu: dict[str, str] = dict(feishu or {})       # hook id -> secret
        self.wecom: set[str] = set(wecom)
        self.received: list[dict] = []


def _pairs(values) -> dict[str, str]:
    return dict((v.split(":", 1) + [""])[:2] for v in values or [])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.robots", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--dingtalk", action="append", help="TOKEN[:SECRET] of a DingTalk robot")
    parser.add_argument("--feishu", action="append", help="HOOK_ID[:SECRET] of a Feishu bot")
    parser.add_argument("--wecom", action="append", help="KEY of a WeCom robot")
    args = parser.parse_args(argv)
    server = RobotServer((args.host, args.port), Knobs(), _pairs(args.dingtalk), _pairs(args.feishu), args.wecom or ())
    serve(server, "sandbox.robots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
