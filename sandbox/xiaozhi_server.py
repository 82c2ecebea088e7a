"""An emulator of the upstream xiaozhi-esp32-server, for the xiaozhi-server target's sandbox
(single-server deployment) and the xiaozhi-console one (full deployment: with ``manager-api.url``
in data/.config.yaml it takes its base config from manager-api's ``/config/server-base`` at
start, and each device's models from ``/config/agent-models`` at each ``/_sandbox/chat``, whose
body names the device's ``mac`` (or ``macs``, sandbox only: each chat from the next), as upstream
does at each connection). It reads its config as upstream does: built-in defaults
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
import uuid
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import yaml

from sandbox import websocket
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
    api = user.get("manager-api") or {}
    if api.get("url"):   # the full deployment: the config comes from manager-api, not the built-in file
        if not api.get("secret") or "你" in str(api.get("secret")):
            raise ConfigRefused("请先配置manager-api的secret")
        return {"server": merge(DEFAULTS["server"], user.get("server") or {}), "manager-api": api}
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
    return "".join(stream(entry, text, timeout))


def stream(entry: dict, text: str, timeout: float = 60):
    """The reply's parts as the provider streams them."""
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
    with urllib.request.urlopen(request, timeout=timeout) as response:
        for raw in response:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            for choice in json.loads(data).get("choices") or []:
                part = (choice.get("delta") or {}).get("content") or ""
                if part:
                    yield part


class ManagerApi:
    """The server's client of manager-api (config/manage_api_client.py): Bearer secret, no
    keep-alive, up to ``max_retries`` retries ``retry_delay`` s apart on connection errors and
    408/429/5xx, body codes other than 0 raised (10041/10042 as the device's own)."""

    def __init__(self, api: dict):
        self.url, self.secret = str(api["url"]).rstrip("/"), str(api["secret"])
        self.retries, self.delay = int(api.get("max_retries", 6)), float(api.get("retry_delay", 10))
        self.timeout = float(api.get("timeout", 30))

    def post(self, endpoint: str, body=None):
        request = urllib.request.Request(self.url + endpoint, json.dumps(body).encode() if body is not None else b"",
                                         {"Content-Type": "application/json", "Accept": "application/json",
                                          "Authorization": "Bearer " + self.secret,
                                          "User-Agent": f"PythonClient/2.0 (PID:{os.getpid()})"})
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    result = json.loads(response.read())
                break
            except urllib.error.HTTPError as exc:
                if exc.code not in (408, 429, 500, 502, 503, 504) or attempt == self.retries:
                    raise
            except (urllib.error.URLError, OSError):
                if attempt == self.retries:
                    raise
            print(f"POST {endpoint} 异步请求失败，将在 {self.delay:.1f} 秒后进行第 {attempt + 1} 次重试", flush=True)
            time.sleep(self.delay)
        if result.get("code") != 0:
            raise ConfigRefused(f"API返回错误: {result.get('msg')} (code {result.get('code')})")
        return result["data"]


class ServerHandler(Handler):
    routes = {("GET", "/"): "running", ("HEAD", "/"): "running", ("POST", "/_sandbox/chat"): "sandbox_chat",
              ("GET", "/xiaozhi/ota/"): "ota", ("POST", "/xiaozhi/ota/"): "ota", ("GET", "/xiaozhi/v1/"): "device"}

    def _models(self, mac: str, client_id: str) -> tuple[str, dict]:
        """The LLM entry a device's connection uses: its agent's (console mode, asked at each
        connection as upstream does), else the selected one."""
        if self.server.api is None:
            return self.server.llm
        private = self.server.api.post("/config/agent-models", {
            "macAddress": mac, "clientId": client_id or mac, "selectedModule": self.server.selected})
        name = private["selected_module"]["LLM"]
        return name, private["LLM"][name]

    def device(self):
        """The device protocol's shape (firmware websocket_protocol.cc, upstream core/connection.py):
        the upgrade with ``device-id``/``client-id``, ``hello`` answered with a session id, then each
        ``listen``/``detect`` text chatted through the connection's LLM, the reply streamed back as
        ``stt``, ``llm``, ``tts`` start / sentence_start ... / stop. The models are read once, when
        the connection opens; the device closes it when the conversation is over."""
        mac, client_id = self.headers.get("device-id") or "", self.headers.get("client-id") or ""
        if (self.headers.get("Upgrade") or "").lower() != "websocket" or not mac:
            return self.send_text(200, "Server is running")   # upstream's answer to a plain GET on 8000
        try:
            name, entry = self._models(mac, client_id)
        except (ConfigRefused, urllib.error.URLError, OSError, KeyError, TypeError, ValueError) as exc:
            print(f"获取差异化配置失败: {exc}", flush=True)
            return self.send_text(403, f"device {mac}: {exc}")
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", websocket.accept_key(self.headers.get("Sec-WebSocket-Key") or ""))
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.connection.settimeout(float(os.environ.get("SANDBOX_IDLE_S", "120")))   # upstream: no voice for 120 s
        conn, session = websocket.Connection(self.rfile, self.wfile, masked=False), uuid.uuid4().hex
        with self.server.lock:
            self.server.counts["device sessions"] = self.server.counts.get("device sessions", 0) + 1
        try:
            while True:
                message = conn.receive()
                if not isinstance(message, dict):
                    continue
                if message.get("type") == "hello":
                    conn.send({"type": "hello", "transport": "websocket", "session_id": session,
                               "audio_params": {"format": "opus", "sample_rate": 24000, "channels": 1,
                                                "frame_duration": 60}})
                elif message.get("type") == "listen" and message.get("state") == "detect" and message.get("text"):
                    self._converse(conn, session, name, entry, str(message["text"]))
        except (websocket.Closed, OSError, ValueError):
            return

    def _converse(self, conn, session: str, name: str, entry: dict, text: str) -> None:
        conn.send({"type": "stt", "text": text, "session_id": session})
        conn.send({"type": "llm", "text": "😊", "emotion": "happy", "session_id": session})
        conn.send({"type": "tts", "state": "start", "session_id": session, "entry": name})
        try:
            for part in stream(entry, text):
                conn.send({"type": "tts", "state": "sentence_start", "text": part, "session_id": session})
        except (urllib.error.URLError, OSError, ValueError) as exc:
            print(f"LLM {name} 请求失败: {exc}", flush=True)
            conn.send({"type": "tts", "state": "stop", "session_id": session, "error": str(exc)[:200]})
            return
        conn.send({"type": "tts", "state": "stop", "session_id": session})
        with self.server.lock:
            self.server.counts["conversations"] = self.server.counts.get("conversations", 0) + 1

    def running(self):
        self.send_text(200, "Server is running")

    def ota(self):
        self._drain_body()
        self.send_json(200, {"server_time": {"timestamp": int(time.time() * 1000), "timezone_offset": 480},
                             "firmware": {"version": "1.0.0", "url": ""},
                             "websocket": {"url": f"ws://{self.headers.get('Host', 'localhost')}/xiaozhi/v1/"}})

    def sandbox_chat(self):
        body = self.read_json()
        text = body.get("text") or "你好"
        if self.server.api is not None:   # console mode: the device's models, asked at each connection
            mac = str(body.get("mac") or "")
            if not mac and isinstance(body.get("macs"), list) and body["macs"]:   # sandbox only: devices in turn
                with self.server.lock:
                    self.server.turn += 1
                    mac = str(body["macs"][self.server.turn % len(body["macs"])])
            try:
                private = self.server.api.post("/config/agent-models", {
                    "macAddress": mac, "clientId": body.get("client_id") or mac,
                    "selectedModule": self.server.selected})
                name = private["selected_module"]["LLM"]
                entry = private["LLM"][name]
            except (ConfigRefused, urllib.error.URLError, OSError, KeyError, TypeError, ValueError) as exc:
                print(f"获取差异化配置失败: {exc}", flush=True)
                return self.send_json(502, {"entry": None, "error": f"manager-api: {exc}"})
        else:
            name, entry = self.server.llm
        try:
            reply = chat(entry, text)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            print(f"LLM {name} 请求失败: {exc}", flush=True)
            return self.send_json(502, {"entry": name, "error": str(exc)})
        self.send_json(200, {"entry": name, "reply": reply})


class XiaozhiServer(EmulatorServer):
    def __init__(self, address, llm: tuple[str, dict] | None, api: ManagerApi | None = None,
                 selected: dict | None = None):
        super().__init__(address, ServerHandler, Knobs())
        self.llm, self.api, self.selected = llm, api, selected or {}
        self.turn = -1


# Upstream's app.py, on SIGTERM (once started), cancels its server tasks: a conversation open then
# is closed at once (the device loses that turn), never finished. So does the emulator.
STOP_GRACE_S = 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.xiaozhi_server", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("XIAOZHI_DATA", "/opt/xiaozhi-esp32-server/data"),
                        help="the folder holding .config.yaml (env XIAOZHI_DATA)")
    parser.add_argument("--host", default=os.environ.get("SANDBOX_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=8000, help="websocket and `Server is running` (default 8000)")
    parser.add_argument("--ota-port", type=int, default=8003, help="OTA (default 8003)")
    args = parser.parse_args(argv)
    startup = float(os.environ.get("SANDBOX_STARTUP_S", "0") or 0)
    if startup > 0:   # as upstream loading its VAD and ASR models: 8000 does not answer yet, SIGTERM not handled
        print(f"loading models ({startup:.0f} s, SANDBOX_STARTUP_S)", flush=True)
        time.sleep(startup)
    try:
        config = load_config(Path(args.data))
        if "manager-api" in config:
            return console(args, ManagerApi(config["manager-api"]))
        llm = select_llm(config)
        if llm[0] in os.environ.get("SANDBOX_FAIL_ENTRY", "").split(","):   # sandbox only: a provider that fails
            raise ConfigRefused(f"LLM {llm[0]}: the provider failed to initialise (SANDBOX_FAIL_ENTRY)")
    except (ConfigRefused, OSError) as exc:
        print(f"初始化组件失败: {exc}", flush=True)
        return 1
    print(f"初始化组件: llm成功 {llm[0]}", flush=True)
    ota = XiaozhiServer((args.host, args.ota_port), llm)
    start_in_thread(ota)
    serve(XiaozhiServer((args.host, args.port), llm), "sandbox.xiaozhi_server", grace=STOP_GRACE_S)
    ota.shutdown()
    return 0


def console(args, api: ManagerApi) -> int:
    """The full deployment: the base config from manager-api at start (the server exits when it
    cannot have it), each device's models at each of its connections."""
    try:
        base = api.post("/config/server-base")
    except (ConfigRefused, urllib.error.URLError, OSError, ValueError) as exc:
        print(f"初始化组件失败: manager-api: {exc}", flush=True)
        return 1
    selected = base.get("selected_module") or {}
    print(f"从API读取配置: selected_module {json.dumps(selected, ensure_ascii=False)}", flush=True)
    ota = XiaozhiServer((args.host, args.ota_port), None, api, selected)
    start_in_thread(ota)
    serve(XiaozhiServer((args.host, args.port), None, api, selected), "sandbox.xiaozhi_server", grace=STOP_GRACE_S)
    ota.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
