"""An emulator of the upstream xiaozhi-esp32-server (single-server deployment), for the
xiaozhi-server target's sandbox. It reads its config as upstream does: built-in defaults
deep-merged with ``data/.config.yaml`` (the user's file wins key by key), once, at start. It
refuses to start without that file, or with both ``manager-api`` and ``selected_module``; it logs
the LLM it initialised (``初始化组件: llm成功 NAME``, or ``初始化组件失败: ...``); it answers a plain
GET on 8000 with ``Server is running`` and the OTA route on 8003. ``POST /_sandbox/chat`` (not an
upstream route) runs one chat through the selected entry the way upstream's providers do:
``openai`` streams an OpenAI-compatible chat from ``base_url`` (adding ``enable_thinking: false``
only for an aliyuncs.com host), ``ollama`` the same from ``base_url`` + ``/v1``.
``SANDBOX_FAIL_ENTRY=NAME[,NAME]`` (sandbox only) makes the named entries fail to initialise, as a
provider that cannot start does upstream: the failure is logged and the server exits.

Reading YAML needs PyYAML (pure Python, carried into the image beside this package)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import yaml

from sandbox.common import EmulatorServer, Handler, Knobs, serve, start_in_thread

# What upstream's built-in config.yaml says about the LLM (the rest is not emulated).
DEFAULTS = {
    "server": {"ip": "0.0.0.0", "port": 8000, "http_port": 8003},
    "selected_module": {"VAD": "SileroVAD", "ASR": "FunASR", "LLM": "ChatGLMLLM", "TTS": "EdgeTTS",
                        "Memory": "nomem", "Intent": "function_call"},
    "LLM": {
        "ChatGLMLLM": {"type": "openai", "model_name": "glm-4-flash",
                       "url": "https://open.bigmodel.cn/api/paas/v4/", "api_key": "你的chat-glm web key"},
        "OllamaLLM": {"type": "ollama", "model_name": "qwen2.5", "base_url": "http://localhost:11434"},
        "AliLLM": {"type": "openai", "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1",
                   "model_name": "qwen-flash", "api_key": "你的deepseek web key", "temperature": 0.7,
                   "max_tokens": 500, "top_p": 1, "frequency_penalty": 0},
    },
}
PROVIDERS = ("openai", "ollama")   # the ones emulated; upstream has more


class ConfigRefused(Exception):
    """The server would not start with this configuration."""


def merge(defaults: dict, user: dict) -> dict:
    """Upstream's merge: nested mappings merge key by key, the user's value wins otherwise."""
    out = dict(defaults)
    for key, value in user.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(data_dir: Path) -> dict:
    path = data_dir / ".config.yaml"
    if not path.is_file():
        raise ConfigRefused(f"找不到data/.config.yaml文件 ({path}): the server needs it to start")
    try:
        user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigRefused(f"{path} is not YAML: {exc}") from None
    if not isinstance(user, dict):
        raise ConfigRefused(f"{path}: the top level is not a mapping")
    if "manager-api" in user and "selected_module" in user:
        raise ConfigRefused("data/.config.yaml holds both manager-api and selected_module: remove one")
    if (user.get("manager-api") or {}).get("url"):
        raise ConfigRefused("manager-api.url: the config comes from the web console (not emulated)")
    return merge(DEFAULTS, user)


def select_llm(config: dict) -> tuple[str, dict]:
    """The selected LLM entry, checked as upstream's module initialisation would."""
    name = (config.get("selected_module") or {}).get("LLM")
    entry = (config.get("LLM") or {}).get(name)
    if not isinstance(entry, dict):
        raise ConfigRefused(f"LLM {name!r} is selected but has no entry under LLM")
    if entry.get("type", name) not in PROVIDERS:
        raise ConfigRefused(f"LLM {name!r}: type {entry.get('type')!r} is not emulated ({', '.join(PROVIDERS)})")
    if not (entry.get("base_url") or entry.get("url")):
        raise ConfigRefused(f"LLM {name!r} has no base_url")
    return name, entry


def chat(entry: dict, text: str, timeout: float = 60) -> str:
    """One streamed chat through ``entry`` as upstream's provider sends it; the reply's text."""
    base = str(entry.get("base_url") or entry.get("url")).rstrip("/")
    if entry.get("type") == "ollama":
        base += "/v1"
    body = {"model": entry.get("model_name"), "stream": True, "messages": [{"role": "user", "content": text}]}
    for key in ("temperature", "max_tokens", "top_p", "frequency_penalty"):
        if key in entry:
            body[key] = entry[key]
    if "aliyuncs.com" in (urlparse(base).hostname or ""):
        body["enable_thinking"] = False
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {entry.get('api_key') or 'ollama'}"}
    request = urllib.request.Request(base + "/chat/completions", json.dumps(body).encode(), headers)
    parts = []
    with urllib.request.urlopen(request, timeout=timeout) as response:
        for raw in response:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            for choice in json.loads(data).get("choices") or []:
                parts.append((choice.get("delta") or {}).get("content") or "")
    return "".join(parts)


class ServerHandler(Handler):
    routes = {("GET", "/"): "running", ("HEAD", "/"): "running", ("POST", "/_sandbox/chat"): "sandbox_chat",
              ("GET", "/xiaozhi/ota/"): "ota", ("POST", "/xiaozhi/ota/"): "ota"}

    def running(self):
        self.send_text(200, "Server is running")

    def ota(self):
        self._drain_body()
        self.send_json(200, {"server_time": {"timestamp": int(time.time() * 1000), "timezone_offset": 480},
                             "firmware": {"version": "1.0.0", "url": ""},
                             "websocket": {"url": f"ws://{self.headers.get('Host', 'localhost')}/xiaozhi/v1/"}})

    def sandbox_chat(self):
        text = self.read_json().get("text") or "你好"
        name, entry = self.server.llm
        try:
            reply = chat(entry, text)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            print(f"LLM {name} 请求失败: {exc}", flush=True)
            return self.send_json(502, {"entry": name, "error": str(exc)})
        self.send_json(200, {"entry": name, "reply": reply})


class XiaozhiServer(EmulatorServer):
    def __init__(self, address, llm: tuple[str, dict]):
        super().__init__(address, ServerHandler, Knobs())
        self.llm = llm


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.xiaozhi_server", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("XIAOZHI_DATA", "/opt/xiaozhi-esp32-server/data"),
                        help="the folder holding .config.yaml (env XIAOZHI_DATA)")
    parser.add_argument("--host", default=os.environ.get("SANDBOX_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=8000, help="websocket and `Server is running` (default 8000)")
    parser.add_argument("--ota-port", type=int, default=8003, help="OTA (default 8003)")
    args = parser.parse_args(argv)
    try:
        config = load_config(Path(args.data))
        llm = select_llm(config)
        if llm[0] in os.environ.get("SANDBOX_FAIL_ENTRY", "").split(","):   # sandbox only: a provider that fails
            raise ConfigRefused(f"LLM {llm[0]}: the provider failed to initialise (SANDBOX_FAIL_ENTRY)")
    except (ConfigRefused, OSError) as exc:
        print(f"初始化组件失败: {exc}", flush=True)
        return 1
    print(f"初始化组件: llm成功 {llm[0]}", flush=True)
    ota = XiaozhiServer((args.host, args.ota_port), llm)
    start_in_thread(ota)
    serve(XiaozhiServer((args.host, args.port), llm), "sandbox.xiaozhi_server")
    ota.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
