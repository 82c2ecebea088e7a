"""DashScope (Tongyi Qianwen) API emulator.

    python3 -m sandbox.dashscope --port 18080 --key KEY [--rpm 600] [knobs]

Compatible mode (OpenAI shape) under ``/compatible-mode/v1``: ``POST /chat/completions``
(SSE ``data:`` lines ending ``data: [DONE]``, ``stream_options.include_usage``) and
``GET /models``. Native: ``POST /api/v1/services/aigc/text-generation/generation``, with
``X-DashScope-SSE: enable`` framing (``id:``, ``event:result``, ``:HTTP_STATUS/200``, ``data:``).
A wrong or missing bearer key gets 401 ``InvalidApiKey``; above ``--rpm`` requests in the last
minute, 429 ``Throttling.RateQuota``. Each family answers errors in its own body shape.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

from sandbox.common import (EmulatorServer, Handler, add_knob_args, knobs_from_args,
                            request_id, serve)

MODELS = ("qwen-turbo", "qwen-plus", "qwen-max", "qwen-flash")
COMPAT = "/compatible-mode/v1"
NATIVE = "/api/v1/services/aigc/text-generation/generation"

# (status, native code, native message, compatible type, compatible code)
ERRORS = {
    "auth": (401, "InvalidApiKey", "Invalid API-key provided.", "invalid_request_error", "invalid_api_key"),
    "rate": (429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.",
             "limit_requests", "limit_requests"),
    "model": (400, "InvalidParameter", "Model not exist.", "invalid_request_error", "model_not_found"),
    "input": (400, "InvalidParameter", "", "invalid_request_error", "invalid_parameter_error"),
    "internal": (500, "InternalError", "An internal error has occured, please try again later.",
                 "internal_error", "internal_error"),
}


class DashScopeServer(EmulatorServer):
    def __init__(self, address, knobs, key: str, rpm: int):
        super().__init__(address, DashScopeHandler, knobs)
        self.key = key
        self.rpm = rpm
        self.recent: collections.deque[float] = collections.deque()

    def over_rate(self) -> bool:
        """Count this request against a sliding one-minute window."""
        if self.rpm <= 0:
            return False
        now = time.monotonic()
        with self.lock:
            while self.recent and self.recent[0] < now - 60:
                self.recent.popleft()
            if len(self.recent) >= self.rpm:
                return True
            self.recent.append(now)
            return False


class DashScopeHandler(Handler):
    server: DashScopeServer
    routes = {
        ("POST", COMPAT + "/chat/completions"): "compat_chat",
        ("GET", COMPAT + "/models"): "compat_models",
        ("POST", NATIVE): "native_generation",
    }

    @property
    def native(self) -> bool:
        return self.path.startswith("/api/")

    def fail(self, kind: str, message: str = "") -> None:
        status, code, default, ctype, ccode = ERRORS[kind]
        rid = request_id()
        if self.native:
            return self.send_json(status, {"code": code, "message": message or default, "request_id": rid})
        self.send_json(status, {"error": {"message": message or default, "type": ctype,
                                          "param": None, "code": ccode}, "request_id": rid})

    def bad_request(self, message: str) -> None:
        self.fail("input", message)

    def gate(self) -> bool:
        """Authentication, then the rate limit, then the injected error rate."""
        header = self.headers.get("Authorization", "")
        if header != f"Bearer {self.server.key}":
            self._drain_body()
            self.fail("auth")
            return False
        if self.server.over_rate():
            self._drain_body()
            self.fail("rate")
            return False
        return True

    # --- compatible mode ----------------------------------------------------------------------
    def compat_models(self):
        if not self.gate():
            return
        self.send_json(200, {"object": "list", "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"} for m in MODELS]})

    def compat_chat(self):
        if not self.gate():
            return
        body = self.read_json()
        model = body.get("model")
        if model not in MODELS:
            return self.fail("model", f"The model `{model}` does not exist or you do not have access to it.")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return self.fail("input", "messages must be a non-empty list")
        problem = _tools_problem(body.get("tools"), self.server.knobs.tools_unsupported)
        if problem:
            return self.fail("input", problem)
        if "enable_thinking" in body and not isinstance(body["enable_thinking"], bool):
            return self.fail("input", "enable_thinking must be a boolean")
        if self.server.should_fail():
            return self.fail("internal")
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        count = min(int(limit), self.server.knobs.reply_tokens) if limit else self.server.knobs.reply_tokens
        reason = "length" if limit and count == int(limit) else "stop"
        usage = {"prompt_tokens": 12, "completion_tokens": count, "total_tokens": 12 + count}
        rid, created = request_id(), int(time.time())
        cid = "chatcmpl-" + rid
        if not body.get("stream"):
            text = "".join(self.paced_tokens(count))
            return self.send_json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": reason, "logprobs": None}], "usage": usage})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.start_stream("text/event-stream;charset=UTF-8", {"X-Request-Id": rid})

        def chunk(delta, finish=None):
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "system_fingerprint": None, "usage": None,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

        first = True
        for token in self.paced_tokens(count):
            delta = {"content": token, "role": "assistant"} if first else {"content": token}
            first = False
            self._data(chunk(delta))
        self._data(chunk({"content": ""}, reason))
        if include_usage:
            last = chunk({})
            last["choices"], last["usage"] = [], usage
            self._data(last)
        self.write_chunk(b"data: [DONE]\n\n")
        self.end_stream()

    def _data(self, obj):
        self.write_chunk(b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")

    # --- native -------------------------------------------------------------------------------
    def native_generation(self):
        if not self.gate():
            return
        body = self.read_json()
        model = body.get("model")
        if model not in MODELS:
            return self.fail("model")
        messages = (body.get("input") or {}).get("messages")
        prompt = (body.get("input") or {}).get("prompt")
        if not messages and not prompt:
            return self.fail("input", "Either input.messages or input.prompt must be given.")
        if self.server.should_fail():
            return self.fail("internal")
        params = body.get("parameters") or {}
        as_message = params.get("result_format") == "message"
        incremental = bool(params.get("incremental_output"))
        count = min(int(params.get("max_tokens") or 10 ** 6), self.server.knobs.reply_tokens)
        rid = request_id()

        def frame(text, finish, produced):
            usage = {"input_tokens": 12, "output_tokens": produced, "total_tokens": 12 + produced}
            if as_message:
                output = {"choices": [{"message": {"role": "assistant", "content": text},
                                       "finish_reason": finish}]}
            else:
                output = {"text": text, "finish_reason": finish}
            return {"output": output, "usage": usage, "request_id": rid}

        if self.headers.get("X-DashScope-SSE", "").lower() != "enable":
            text = "".join(self.paced_tokens(count))
            return self.send_json(200, frame(text, "stop", count))
        self.start_stream("text/event-stream;charset=UTF-8", {"X-Request-Id": rid})
        sent = ""
        for i, token in enumerate(self.paced_tokens(count), start=1):
            sent += token
            self._frame(i, frame(token if incremental else sent, "null", i))
        self._frame(count + 1, frame("" if incremental else sent, "stop", count))
        self.end_stream()

    def _frame(self, n: int, obj: dict) -> None:
        data = json.dumps(obj, ensure_ascii=False)
        self.write_chunk(f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode())


def _tools_problem(tools, unsupported: bool) -> str:
    """Why a request's ``tools`` would be refused ('' when it is fine or absent)."""
    if tools is None:
        return ""
    if unsupported:
        return "The model does not support tools."
    if not isinstance(tools, list) or not all(
            isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict)
            and t["function"].get("name") for t in tools):
        return "tools must be a list of {type: function, function: {name, ...}}"
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.dashscope", description="DashScope API emulator")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DASHSCOPE_PORT", "18080")))
    parser.add_argument("--key", default=os.environ.get("SANDBOX_DASHSCOPE_KEY"),
                        help="the only API key accepted (env SANDBOX_DASHSCOPE_KEY)")
    parser.add_argument("--rpm", type=int, default=int(os.environ.get("SANDBOX_RPM", "600")),
                        help="requests per minute before 429 Throttling.RateQuota, 0 = unlimited")
    parser.add_argument("--tls-cert", help="serve https with this PEM certificate (and --tls-key)")
    parser.add_argument("--tls-key", help="the certificate's PEM private key")
    add_knob_args(parser)
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("an API key is required: --key or SANDBOX_DASHSCOPE_KEY")
    try:
        knobs = knobs_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    server = DashScopeServer((args.host, args.port), knobs, args.key, args.rpm)
    if args.tls_cert:
        import ssl
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    serve(server, "sandbox.dashscope")
    return 0


if __name__ == "__main__":
    sys.exit(main())
