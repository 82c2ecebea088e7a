"""Ollama API emulator over a real model store.

    python3 -m sandbox.ollama --port 11434 --models DIR [knobs]

Routes and shapes follow ollama/ollama docs/api.md and server/routes.go: ``GET|HEAD /``,
``/api/version``, ``/api/tags``, ``/api/ps``, ``/api/show``, ``/api/generate`` and ``/api/chat``
(NDJSON stream or one object), ``/v1/chat/completions``, ``/v1/models`` and ``DELETE /api/delete``,
which prunes blobs no other manifest references. Errors are ``{"error": "..."}``; errors in
a stream are an NDJSON line with status 200, as Ollama sends them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

from sandbox.common import (BadRequest, EmulatorServer, Handler, add_knob_args, knobs_from_args,
                            now_rfc3339, serve)
from sandbox.store import Store

VERSION = "0.6.8"
KEEP_ALIVE_S = 300


class OllamaServer(EmulatorServer):
    def __init__(self, address, knobs, store: Store, max_queue: int = 512):
        super().__init__(address, OllamaHandler, knobs)
        self.store = store
        self.max_queue = max_queue
        self.in_flight = 0
        self.loaded: dict[str, float] = {}  # model -> expiry (epoch seconds)

    def admit(self) -> bool:
        with self.lock:
            if self.in_flight >= self.max_queue:
                return False
            self.in_flight += 1
            return True

    def release(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def touch(self, model: str, keep_alive) -> None:
        seconds = parse_keep_alive(keep_alive)
        with self.lock:
            if seconds == 0:
                self.loaded.pop(model, None)
            else:
                self.loaded[model] = time.time() + (seconds if seconds > 0 else 10 ** 9)


def parse_keep_alive(value) -> float:
    """Ollama accepts seconds as a number or a Go duration string ('5m', '1h', '0')."""
    if value is None:
        return KEEP_ALIVE_S
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                break
    try:
        return float(text)
    except ValueError:
        raise BadRequest(f"time: invalid duration {text!r}") from None


class OllamaHandler(Handler):
    server: OllamaServer
    routes = {
        ("GET", "/"): "root", ("HEAD", "/"): "root",
        ("GET", "/api/version"): "version", ("HEAD", "/api/version"): "version",
        ("GET", "/api/tags"): "tags", ("HEAD", "/api/tags"): "tags",
        ("GET", "/api/ps"): "ps",
        ("POST", "/api/show"): "show",
        ("POST", "/api/generate"): "generate",
        ("POST", "/api/chat"): "chat",
        ("DELETE", "/api/delete"): "delete",
        ("POST", "/v1/chat/completions"): "openai_chat",
        ("GET", "/v1/models"): "openai_models",
    }

    # --- metadata ---------------------------------------------------------------------------
    def root(self):
        self.send_text(200, "Ollama is running")

    def version(self):
        self.send_json(200, {"version": VERSION})

    def _entry(self, name, path) -> dict:
        store = self.server.store
        raw = path.read_bytes()
        manifest = json.loads(raw)
        cfg = store.config(manifest)
        return {
            "name": name, "model": name,
            "modified_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z",
                                         time.gmtime(path.stat().st_mtime)),
            "size": store.size(manifest), "digest": hashlib.sha256(raw).hexdigest(),
            "details": {"parent_model": "", "format": cfg.get("model_format", "gguf"),
                        "family": cfg.get("model_family", ""),
                        "families": cfg.get("model_families") or None,
                        "parameter_size": cfg.get("model_type", ""),
                        "quantization_level": cfg.get("file_type", "")},
        }

    def tags(self):
        models = [self._entry(n, p) for n, p in self.server.store.manifests().items()]
        self.send_json(200, {"models": models})

    def ps(self):
        now = time.time()
        with self.server.lock:
            for model, expiry in list(self.server.loaded.items()):
                if expiry < now:
                    del self.server.loaded[model]
            loaded = dict(self.server.loaded)
        models = []
        for name, expiry in loaded.items():
            path = self.server.store.find(name)
            if path is None:
                continue
            entry = self._entry(name, path)
            entry.pop("modified_at")
            entry["expires_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(expiry))
            entry["size_vram"] = 0  # CPU only, as on the operators' hosts
            models.append(entry)
        self.send_json(200, {"models": models})

    def _model_of(self, body: dict) -> tuple[str, object]:
        name = body.get("model") or body.get("name")
        if not name or not isinstance(name, str):
            raise BadRequest("model is required")
        path = self.server.store.find(name)
        if path is None:
            return name, None
        return name, path

    def show(self):
        name, path = self._model_of(self.read_json())
        if path is None:
            return self.send_json(404, {"error": f"model '{name}' not found"})
        store = self.server.store
        manifest = store.load(path)
        entry = self._entry(name, path)
        self.send_json(200, {
            "license": store.layer_text(manifest, "license"),
            "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {name}\n",
            "parameters": "\n".join(f"stop {json.dumps(s)}" for s in
                                    json.loads(store.layer_text(manifest, "params") or "{}").get("stop", [])),
            "template": store.layer_text(manifest, "template"),
            "details": entry["details"],
            "model_info": {"general.architecture": "qwen2",
                           "general.parameter_count": 7615616512 if "7b" in name else 1543714304},
            "capabilities": ["completion"],
            "modified_at": entry["modified_at"],
        })

    def delete(self):
        name, path = self._model_of(self.read_json())
        if path is None:
            return self.send_json(404, {"error": f"model '{name}' not found"})
        self.server.store.delete(name)
        with self.server.lock:
            self.server.loaded.pop(name, None)
        self.send_json(200, {})

    def openai_models(self):
        data = [{"id": name, "object": "model", "created": int(path.stat().st_mtime),
                 "owned_by": "library"} for name, path in self.server.store.manifests().items()]
        self.send_json(200, {"object": "list", "data": data})

    # --- generation ---------------------------------------------------------------------------
    def generate(self):
        self._complete(self.read_json(), chat=False)

    def chat(self):
        self._complete(self.read_json(), chat=True)

    def _complete(self, body: dict, chat: bool):
        name, path = self._model_of(body)
        if path is None:
            return self.send_json(404, {"error": f"model '{name}' not found, try pulling it first"})
        if chat and not isinstance(body.get("messages", []), list):
            raise BadRequest("messages must be a list")
        keep_alive = body.get("keep_alive")
        empty = (not body.get("messages")) if chat else (not body.get("prompt"))
        if empty:  # Ollama loads (or with keep_alive 0 unloads) the model and answers at once
            self.server.touch(name, keep_alive)
            reason = "unload" if parse_keep_alive(keep_alive) == 0 else "load"
            done = {"model": name, "created_at": now_rfc3339(), "done": True, "done_reason": reason}
            done.update({"message": {"role": "assistant", "content": ""}} if chat else {"response": ""})
            return self.send_json(200, done)
        if not self.server.admit():
            return self.send_json(503, {"error": "server busy, please try again.  maximum pending requests exceeded"})
        try:
            self._stream_reply(body, name, chat)
        finally:
            self.server.release()

    def _stream_reply(self, body, name, chat):
        stream = body.get("stream", True) is not False
        options = body.get("options") or {}
        limit = options.get("num_predict")
        count = self.server.knobs.reply_tokens if not limit or limit < 0 else min(int(limit), self.server.knobs.reply_tokens)
        fail = self.server.should_fail()
        start = time.monotonic_ns()
        self.server.touch(name, body.get("keep_alive"))

        def piece(text, done=False):
            obj = {"model": name, "created_at": now_rfc3339()}
            if chat:
                obj["message"] = {"role": "assistant", "content": text}
            else:
                obj["response"] = text
            obj["done"] = done
            return obj

        if not stream:
            if fail:
                return self.send_json(500, {"error": "llama runner process has terminated: exit status 2"})
            text = "".join(self.paced_tokens(count))
            final = piece(text, True)
            final.update(self._timings(start, count, "length" if limit and count == limit else "stop"))
            return self.send_json(200, final)
        self.start_stream("application/x-ndjson")
        first_eval = None
        for i, token in enumerate(self.paced_tokens(count)):
            if first_eval is None:
                first_eval = time.monotonic_ns()
            if fail and i == count // 2:
                self.write_chunk(json.dumps({"error": "an error was encountered while running the model: unexpected EOF"}).encode() + b"\n")
                return self.end_stream()
            self.write_chunk(json.dumps(piece(token), ensure_ascii=False).encode() + b"\n")
        final = piece("", True)
        final.update(self._timings(start, count, "length" if limit and count == limit else "stop", first_eval))
        self.write_chunk(json.dumps(final).encode() + b"\n")
        self.end_stream()

    @staticmethod
    def _timings(start_ns, count, reason, first_eval_ns=None) -> dict:
        end = time.monotonic_ns()
        first = first_eval_ns or end
        return {"done_reason": reason, "total_duration": end - start_ns, "load_duration": 1_000_000,
                "prompt_eval_count": 12, "prompt_eval_duration": max(first - start_ns, 1),
                "eval_count": count, "eval_duration": max(end - first, 1)}

    # --- OpenAI compatibility -------------------------------------------------------------------
    def openai_chat(self):
        try:
            body = self.read_json()
        except BadRequest as exc:
            return self.send_json(400, openai_error(str(exc), "invalid_request_error"))
        name = body.get("model")
        if not name or self.server.store.find(name) is None:
            return self.send_json(404, openai_error(f"model \"{name}\" not found, try pulling it first", "api_error"))
        if not self.server.admit():
            return self.send_json(503, openai_error("server busy, please try again.  maximum pending requests exceeded", "api_error"))
        try:
            self._openai_reply(body, name)
        finally:
            self.server.release()

    def _openai_reply(self, body, name):
        created, cid = int(time.time()), f"chatcmpl-{int(time.time() * 1000) % 1000}"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        count = min(int(limit), self.server.knobs.reply_tokens) if limit else self.server.knobs.reply_tokens
        reason = "length" if limit and count == limit else "stop"
        usage = {"prompt_tokens": 12, "completion_tokens": count, "total_tokens": 12 + count}
        self.server.touch(name, None)
        if self.server.should_fail():
            return self.send_json(500, openai_error("llama runner process has terminated", "api_error"))
        if not body.get("stream"):
            text = "".join(self.paced_tokens(count))
            return self.send_json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": name,
                "system_fingerprint": "fp_ollama",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": reason}], "usage": usage})
        self.start_stream("text/event-stream")

        def chunk(delta, finish=None):
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                    "system_fingerprint": "fp_ollama",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        for token in self.paced_tokens(count):
            self._sse(chunk({"role": "assistant", "content": token}))
        self._sse(chunk({"role": "assistant", "content": ""}, reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            last = chunk({})
            last["choices"], last["usage"] = [], usage
            self._sse(last)
        self.write_chunk(b"data: [DONE]\n\n")
        self.end_stream()

    def _sse(self, obj):
        self.write_chunk(b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")


def openai_error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def build_server(host: str, port: int, knobs, models_dir: str, max_queue: int = 512) -> OllamaServer:
    store = Store(models_dir)
    store.check()
    return OllamaServer((host, port), knobs, store, max_queue)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.ollama", description="Ollama API emulator")
    parser.add_argument("--port", type=int, default=int(os.environ.get("OLLAMA_PORT", "11434")))
    parser.add_argument("--models", default=os.environ.get("OLLAMA_MODELS",
                                                           os.path.expanduser("~/.ollama/models")),
                        help="model store directory (env OLLAMA_MODELS)")
    parser.add_argument("--max-queue", type=int, default=int(os.environ.get("OLLAMA_MAX_QUEUE", "512")),
                        help="requests in flight before answering 503 (env OLLAMA_MAX_QUEUE)")
    add_knob_args(parser)
    args = parser.parse_args(argv)
    try:
        server = build_server(args.host, args.port, knobs_from_args(args), args.models, args.max_queue)
    except SystemExit as exc:
        print(f"sandbox.ollama: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        parser.error(str(exc))
    serve(server, "sandbox.ollama")
    return 0


if __name__ == "__main__":
    sys.exit(main())
