"""The xiaozhi-esp32-server emulator reads its config as upstream does and chats through the
selected entry as upstream's providers do; it refuses to start where upstream would."""
import subprocess
import sys

import httpx
import pytest

from sandbox import xiaozhi_server as xs
from sandbox.common import start_in_thread

from ..conftest import ROOT
from .conftest import KEY


def user_file(tmp_path, text):
    (tmp_path / ".config.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_users_file_wins_key_by_key(tmp_path):
    config = xs.load_config(user_file(tmp_path, "selected_module:\n  LLM: OllamaLLM\nLLM:\n  OllamaLLM:\n"
                                                "    base_url: http://xiaozhi-local-llm:11434\n"))
    assert config["selected_module"]["TTS"] == "EdgeTTS"          # a default kept
    assert xs.select_llm(config) == ("OllamaLLM", {"type": "ollama", "model_name": "qwen2.5",
                                                   "base_url": "http://xiaozhi-local-llm:11434"})


@pytest.mark.parametrize("text, words", [
    (None, "找不到data/.config.yaml"),
    ("manager-api:\n  url: http://web:8002/xiaozhi\nselected_module:\n  LLM: AliLLM\n", "both manager-api and selected_module"),
    ("manager-api:\n  url: http://web:8002/xiaozhi\n", "请先配置manager-api的secret"),   # upstream's words
    ("manager-api:\n  url: http://127.0.0.1:1/xiaozhi\n  secret: s\n  max_retries: 0\n", "manager-api"),  # none there
    ("selected_module:\n  LLM: NoSuchLLM\n", "has no entry"),
    ("selected_module:\n  LLM: X\nLLM:\n  X: {type: dify, base_url: http://a}\n", "not emulated"),
    ("selected_module: [\n", "is not YAML"),
])
def test_it_refuses_to_start_where_upstream_would(tmp_path, text, words):
    if text is not None:
        user_file(tmp_path, text)
    done = subprocess.run([sys.executable, "-m", "sandbox.xiaozhi_server", "--data", str(tmp_path), "--port", "0",
                           "--ota-port", "0"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "初始化组件失败" in done.stdout and words in done.stdout, done.stdout


def serve(llm):
    server = xs.XiaozhiServer(("127.0.0.1", 0), llm)
    start_in_thread(server)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


def test_it_answers_on_8000_and_ota():
    server = serve(("AliLLM", xs.DEFAULTS["LLM"]["AliLLM"]))
    try:
        assert httpx.get(server.url + "/").text == "Server is running"
        assert "websocket" in httpx.post(server.url + "/xiaozhi/ota/", json={}).json()
    finally:
        server.shutdown()


def test_an_openai_entry_chats_with_the_api(dashscope_server):
    entry = {"type": "openai", "base_url": dashscope_server.url + "/compatible-mode/v1", "model_name": "qwen-plus",
             "api_key": KEY, "temperature": 0.7}
    server = serve(("AliLLM", entry))
    try:
        answer = httpx.post(server.url + "/_sandbox/chat", json={"text": "你好"}, timeout=30).json()
        assert answer["entry"] == "AliLLM" and answer["reply"]
        assert dashscope_server.counts.get("POST /compatible-mode/v1/chat/completions") == 1
    finally:
        server.shutdown()


def test_an_ollama_entry_speaks_openai_at_base_url_v1(ollama_server):
    entry = {"type": "ollama", "base_url": ollama_server.url, "model_name": "qwen2:7b"}
    server = serve(("OllamaLLM", entry))
    try:
        answer = httpx.post(server.url + "/_sandbox/chat", json={}, timeout=30).json()
        assert answer["reply"] and ollama_server.counts.get("POST /v1/chat/completions") == 1
    finally:
        server.shutdown()


def test_a_wrong_key_is_a_502_naming_the_entry(dashscope_server):
    entry = {"type": "openai", "base_url": dashscope_server.url + "/compatible-mode/v1", "model_name": "qwen-plus",
             "api_key": "sk-wrong"}
    server = serve(("AliLLM", entry))
    try:
        done = httpx.post(server.url + "/_sandbox/chat", json={}, timeout=30)
        assert done.status_code == 502 and done.json()["entry"] == "AliLLM" and "401" in done.json()["error"]
    finally:
        server.shutdown()


def device_chat(server, mac="02:00:00:00:00:01", text="你好"):
    """One conversation as a device has it: open, hello, a text, the streamed reply, close."""
    from sandbox.websocket import Client
    conn = Client.open(server.url.replace("http", "ws") + "/xiaozhi/v1/", mac)
    try:
        conn.send({"type": "hello", "version": 1, "transport": "websocket",
                   "audio_params": {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 60}})
        hello = conn.receive()
        conn.send({"session_id": hello["session_id"], "type": "listen", "state": "detect", "text": text})
        messages = []
        while not messages or messages[-1].get("state") != "stop":
            messages.append(conn.receive())
        return hello, messages
    finally:
        conn.close()


def test_a_device_converses_over_the_websocket_through_the_selected_entry(ollama_server):
    entry = {"type": "ollama", "base_url": ollama_server.url, "model_name": "qwen2:7b"}
    server = serve(("OllamaLLM", entry))
    try:
        hello, messages = device_chat(server)
        assert hello["type"] == "hello" and hello["session_id"] and hello["transport"] == "websocket"
        assert [m["type"] for m in messages[:3]] == ["stt", "llm", "tts"] and messages[2]["entry"] == "OllamaLLM"
        sentences = [m["text"] for m in messages if m.get("state") == "sentence_start"]
        assert len(sentences) > 1 and "".join(sentences) and "error" not in messages[-1]
        stats = httpx.get(server.url + "/_sandbox/stats").json()["requests"]
        assert stats["device sessions"] == 1 and stats["conversations"] == 1
    finally:
        server.shutdown()


def test_a_plain_get_or_an_upgrade_without_device_id_is_not_a_session(ollama_server):
    server = serve(("OllamaLLM", {"type": "ollama", "base_url": ollama_server.url, "model_name": "qwen2:7b"}))
    try:
        assert httpx.get(server.url + "/xiaozhi/v1/").text == "Server is running"
        from sandbox.websocket import Client
        with pytest.raises(ConnectionError):
            Client.open(server.url.replace("http", "ws") + "/xiaozhi/v1/", "")
    finally:
        server.shutdown()


def server_process(tmp_path, startup: str):
    """The emulated server as its own process (SIGTERM and start-up are the process's), on a free port."""
    import os
    import socket
    user_file(tmp_path, "selected_module:\n  LLM: OllamaLLM\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "sandbox.xiaozhi_server", "--data", str(tmp_path), "--port",
                                str(port), "--ota-port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "SANDBOX_STARTUP_S": startup})
    return process, port


def test_a_slow_start_answers_nothing_until_it_has_loaded(tmp_path):
    """SANDBOX_STARTUP_S: port 8000 answers only after the start-up, as model loading would hold it."""
    import time
    process, port = server_process(tmp_path, startup="2")
    try:
        time.sleep(1)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/", timeout=1).text == "Server is running"
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        else:
            pytest.fail("the server never answered after its start-up")
    finally:
        process.terminate()
        process.wait(10)


def test_sigterm_closes_an_open_conversation_at_once_as_upstream_does(tmp_path):
    """Issue 24: upstream's app.py cancels its tasks on SIGTERM, so a conversation open then is
    lost (the device goes idle); the emulator's restart cuts it the same way, at once."""
    import signal
    import time
    from sandbox.websocket import Client, Closed
    process, port = server_process(tmp_path, startup="0")
    try:
        deadline = time.time() + 15
        while True:
            try:
                conn = Client.open(f"ws://127.0.0.1:{port}/xiaozhi/v1/", "02:5a:00:00:00:77", timeout=5)
                break
            except OSError:
                assert time.time() < deadline, "the server never answered"
                time.sleep(0.2)
        conn.send({"type": "hello", "version": 1, "transport": "websocket"})
        assert conn.receive()["type"] == "hello"
        start = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0 and time.monotonic() - start < 3, "it waited for the open conversation"
        with pytest.raises((Closed, OSError)):
            conn.send({"type": "listen", "state": "detect", "text": "还在吗"})
            conn.receive()
        conn.close()
    finally:
        process.kill()
        process.wait()
