"""Stand-in for the stack's weighted ``llm-service``.

    python3 -m sandbox.llm_service [--port 8000]

Reads its environment as the real service does: ``LLM_PROVIDER_WEIGHTS`` in the seed's format
(``qwen:70,local:30``), ``LLM_MAX_CONCURRENT``, and for each provider its URL, model and timeout
(``LOCAL_LLM_URL``, ``LOCAL_LLM_MODEL``, ``LOCAL_LLM_TIMEOUT``; ``QWEN_API_BASE``, ``QWEN_MODEL``,
``QWEN_TIMEOUT``, key in ``QWEN_API_KEY`` or ``DASHSCOPE_API_KEY``). ``POST /chat`` forwards to a
provider picked by weight (weight 0 never gets traffic); ``GET /health``; ``GET /stats``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

from core import services
from sandbox.common import BadRequest, EmulatorServer, Handler, Knobs, serve

PROVIDERS = services.PROVIDERS


def parse_weights(text: str) -> dict[str, int]:
    """The toolkit's one parser of the format (core/services.py), and one rule of the service's
    own: some provider must get traffic."""
    weights = services.parse_weights(text)
    if not any(weights.values()):
        raise ValueError(f"LLM_PROVIDER_WEIGHTS {text!r} gives no provider a positive weight")
    return weights


class Picker:
    """Smooth weighted round-robin (nginx's): over any window of sum(weights) requests each
    provider gets exactly its weight, interleaved; a weight-0 provider is never a candidate.
    Deterministic, so a split can be checked to the request instead of within noise."""

    def __init__(self, weights: dict[str, int]):
        self.weights = {n: w for n, w in weights.items() if w > 0}
        self.current = {n: 0 for n in self.weights}
        self.total = sum(self.weights.values())
        self.lock = threading.Lock()

    def pick(self) -> str:
        with self.lock:
            for name, weight in self.weights.items():
                self.current[name] += weight
            best = max(self.current, key=self.current.get)
            self.current[best] -= self.total
            return best


def provider_settings(env=os.environ) -> dict[str, dict]:
    return {
        "local": {"url": env.get("LOCAL_LLM_URL", "http://xiaozhi-local-llm:11434").rstrip("/"),
                  "model": env.get("LOCAL_LLM_MODEL", "qwen2:7b"),
                  "timeout": float(env.get("LOCAL_LLM_TIMEOUT", "30"))},
        "qwen": {"url": env.get("QWEN_API_BASE",
                                "https://dashscope.aliyuncs.com/compatible-mode/v1").rstrip("/"),
                 "model": env.get("QWEN_MODEL", "qwen-plus"),
                 "timeout": float(env.get("QWEN_TIMEOUT", "30")),
                 "key": env.get("QWEN_API_KEY") or env.get("DASHSCOPE_API_KEY") or ""},
    }


def forward(provider: str, settings: dict, messages: list) -> str:
    """One non-streamed completion; raises urllib errors on failure."""
    if provider == "local":
        url, body, headers = settings["url"] + "/api/chat", {
            "model": settings["model"], "messages": messages, "stream": False}, {}
    else:
        url, body = settings["url"] + "/chat/completions", {"model": settings["model"], "messages": messages}
        headers = {"Authorization": f"Bearer {settings['key']}"}
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=settings["timeout"]) as response:
        reply = json.loads(response.read())
    if provider == "local":
        return reply["message"]["content"]
    return reply["choices"][0]["message"]["content"]


class LLMServer(EmulatorServer):
    def __init__(self, address, weights, max_concurrent, providers):
        super().__init__(address, LLMHandler, Knobs())
        self.weights = weights
        self.picker = Picker(weights)
        self.max_concurrent = max_concurrent
        self.slots = threading.BoundedSemaphore(max_concurrent)
        self.providers = providers
        self.requests = {name: 0 for name in PROVIDERS}
        self.errors = {name: 0 for name in PROVIDERS}
        self.rejected = 0

    def count(self, table: dict, name: str) -> None:
        with self.lock:
            table[name] += 1


class LLMHandler(Handler):
    server: LLMServer
    routes = {("POST", "/chat"): "chat", ("GET", "/health"): "health", ("GET", "/stats"): "stats"}

    def health(self):
        server = self.server
        self.send_json(200, {"status": "ok", "service": "llm-service", "weights": server.weights,
                             "max_concurrent": server.max_concurrent,
                             "providers": {n: {k: v for k, v in s.items() if k != "key"}
                                           for n, s in server.providers.items()}})

    def stats(self):
        with self.server.lock:
            self.send_json(200, {"requests": dict(self.server.requests),
                                 "errors": dict(self.server.errors), "rejected": self.server.rejected})

    def chat(self):
        body = self.read_json()
        messages = body.get("messages") or ([{"role": "user", "content": body["prompt"]}]
                                            if isinstance(body.get("prompt"), str) else None)
        if not isinstance(messages, list) or not messages:
            raise BadRequest("give 'messages' (a list) or 'prompt' (a string)")
        if not self.server.slots.acquire(timeout=1.0):
            with self.server.lock:
                self.server.rejected += 1
            return self.send_json(503, {"error": f"busy: {self.server.max_concurrent} requests in flight"})
        try:
            provider = self.server.picker.pick()
            self.server.count(self.server.requests, provider)
            start = time.monotonic()
            try:
                reply = forward(provider, self.server.providers[provider], messages)
            except (OSError, ValueError, KeyError) as exc:
                self.server.count(self.server.errors, provider)
                return self.send_json(502, {"error": f"provider {provider} failed: {exc}",
                                            "provider": provider})
            self.send_json(200, {"provider": provider, "reply": reply,
                                 "latency_ms": round((time.monotonic() - start) * 1000, 1)})
        finally:
            self.server.slots.release()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.llm_service", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("LLM_SERVICE_PORT", "8000")))
    parser.add_argument("--host", default=os.environ.get("SANDBOX_BIND", "127.0.0.1"))
    args = parser.parse_args(argv)
    try:
        weights = parse_weights(os.environ.get("LLM_PROVIDER_WEIGHTS", "qwen:25,local:30"))
        max_concurrent = int(os.environ.get("LLM_MAX_CONCURRENT", "20"))
        if max_concurrent < 1:
            raise ValueError("LLM_MAX_CONCURRENT must be at least 1")
        providers = provider_settings()
    except ValueError as exc:
        print(f"sandbox.llm_service: {exc}", file=sys.stderr)
        return 2
    serve(LLMServer((args.host, args.port), weights, max_concurrent, providers), "sandbox.llm_service")
    return 0


if __name__ == "__main__":
    sys.exit(main())
