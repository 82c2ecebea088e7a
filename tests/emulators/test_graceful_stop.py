"""The sandbox's services stop the way Compose expects of a real one: on SIGTERM they refuse new
connections at once, finish every reply in flight, then exit (issue 10: replies were cut)."""
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

from ..conftest import ROOT, free_port, wait_listening

KEY = "sk-sandbox-graceful-0123"


def test_sigterm_finishes_replies_in_flight_and_refuses_new_ones():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.dashscope", "--port", str(port), "--key", KEY,
                             "--rpm", "0", "--first-token-ms", "300", "--token-rate", "20", "--reply-tokens", "10"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_listening(port, 10)
        replies, errors = [], []

        def chat():
            body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], "stream": True}
            try:
                with httpx.stream("POST", f"http://127.0.0.1:{port}/compatible-mode/v1/chat/completions", json=body,
                                  headers={"Authorization": f"Bearer {KEY}"}, timeout=10, trust_env=False) as r:
                    replies.append([line for line in r.iter_lines() if line.startswith("data:")])
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
        clients = [threading.Thread(target=chat) for _ in range(4)]
        for t in clients:
            t.start()
        time.sleep(0.4)                       # every chat is under way (~0.75 s each)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.25)                      # the accept loop polls every 50 ms
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            refused = False
        except ConnectionRefusedError:
            refused = True
        for t in clients:
            t.join(10)
        assert proc.wait(10) == 0
        assert refused, "a new connection was accepted after SIGTERM"
        assert not errors and len(replies) == 4, errors
        assert all(lines[-1] == "data: [DONE]" for lines in replies), "a reply was cut"
    finally:
        proc.kill()
        proc.wait()


def test_a_connection_accepted_before_sigterm_gets_its_first_request_served():
    """Issue 24: a connection the server accepted just before the stop (its request not read yet)
    is work in flight: answered, not told 503 as a kept-alive one asking again would be."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.dashscope", "--port", str(port), "--key", KEY,
                             "--rpm", "0", "--first-token-ms", "300", "--reply-tokens", "2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_listening(port, 10)
        early = socket.create_connection(("127.0.0.1", port), 2)
        time.sleep(0.2)                       # accepted: its handler waits for the request line
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.25)
        body = b'{"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}'
        early.sendall(b"POST /compatible-mode/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        early.settimeout(5)
        answer = early.recv(200)
        early.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()
