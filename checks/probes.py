"""Probes: each observes one part of the world and returns plain facts (a dict), never a
verdict. They run concurrently; each has its own timeout. The API key is sent, never returned.
HTTP goes through adapters.http11 (one connection per request): see there why not httpx."""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlparse

from adapters import http11
from adapters.http11 import HTTPError


def classify(exc: BaseException) -> str:
    """An exception -> the operator's words: refused, timeout, dns, tls, protocol, error."""
    return exc.kind if isinstance(exc, HTTPError) else http11.kind_of(exc)


def host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or (443 if parsed.scheme == "https" else 80)


async def tcp(url: str, timeout: float) -> dict:
    host, port = host_port(url)
    start = time.perf_counter()
    try:
        _, writer = await http11.open_tcp(host, port, timeout)
        writer.close()
        return {"open": True, "host": host, "port": port, "seconds": time.perf_counter() - start}
    except (OSError, asyncio.TimeoutError) as exc:
        return {"open": False, "host": host, "port": port, "error": classify(exc),
                "seconds": time.perf_counter() - start}


async def ollama(url: str, model: str, timeout: float, generate: bool = True) -> dict:
    """/api/version, /api/tags (is the model there?) and a one-token generate, asked at once."""
    facts: dict = {"url": url, "model": model}
    token = asyncio.ensure_future(_ollama_first_token(url, model, timeout)) if generate else None
    try:
        version, tags, show = await asyncio.gather(
            http11.request("GET", url + "/api/version", timeout=timeout),
            http11.request("GET", url + "/api/tags", timeout=timeout),
            http11.request("POST", url + "/api/show", json={"model": model}, timeout=timeout))
        facts["version"] = version.json().get("version")
        names = [m.get("model") or m.get("name") for m in tags.json().get("models", [])]
        facts["model_present"] = model in names or f"{model}:latest" in names
        # A model whose template blob is gone still lists and may even generate: /api/show tells.
        facts["template"] = bool(show.status_code == 200 and (show.json().get("template") or "").strip())
    except (HTTPError, ValueError, AttributeError) as exc:  # AttributeError: JSON, not an object
        if token:
            token.cancel()
        facts.update(error=classify(exc), detail=str(exc)[:200])
        return facts
    if token and facts["model_present"]:
        facts.update(await token)
    elif token:
        token.cancel()
    return facts


async def _ollama_first_token(url: str, model: str, timeout: float) -> dict:
    body = {"model": model, "prompt": "hi", "stream": True, "options": {"num_predict": 1}}
    start = time.perf_counter()
    try:
        async with http11.stream("POST", url + "/api/generate", json=body, timeout=timeout) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")
                return {"generate_error": "overloaded" if response.status_code == 503 else "http",
                        "generate_status": response.status_code, "detail": text[:200]}
            async for line in response.iter_lines():
                if not line.strip():
                    continue
                item = json.loads(line)
                if "error" in item:  # Ollama reports failures mid-stream with status 200
                    return {"generate_error": "stream_error", "detail": str(item["error"])[:200]}
                return {"first_token_s": time.perf_counter() - start, "connect_s": response.connect_seconds}
        return {"generate_error": "empty", "detail": "the stream ended without a token"}
    except (HTTPError, ValueError) as exc:
        return {"generate_error": classify(exc), "detail": str(exc)[:200]}


API_ERRORS = {401: "bad_key", 403: "bad_key", 429: "throttled"}


async def api(url: str, model: str, key: str, timeout: float, generate: bool = True) -> dict:
    """Authentication through the models list, and a one-token streamed completion."""
    facts: dict = {"url": url, "model": model}
    if not key:
        facts["auth"] = "no_key"
        return facts
    headers = {"Authorization": f"Bearer {key}"}
    # Authentication and the first token are asked at once: the run lasts as long as the
    # slower of the two, not their sum.
    auth_task = asyncio.ensure_future(http11.request("GET", url + "/models", headers=headers, timeout=timeout))
    token_task = asyncio.ensure_future(_api_first_token(url, model, headers, timeout)) if generate else None
    try:
        response = await auth_task
    except HTTPError as exc:
        if token_task:
            token_task.cancel()
        facts.update(auth=classify(exc), detail=str(exc)[:200])
        return facts
    facts["status"] = response.status_code
    if response.status_code != 200:
        if token_task:
            token_task.cancel()
        facts["auth"] = API_ERRORS.get(response.status_code,
                                       "server_error" if response.status_code >= 500 else "http")
        facts["detail"] = _api_message(response)
        return facts
    facts["auth"] = "ok"
    if token_task:
        facts.update(await token_task)
    return facts


def _api_message(response: http11.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict):
        return response.text[:200]
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    return f"{error.get('code', '')} {error.get('message', '')}".strip()[:200]


async def _api_first_token(url: str, model: str, headers: dict, timeout: float) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 1}
    start = time.perf_counter()
    try:
        async with http11.stream("POST", url + "/chat/completions", json=body, headers=headers,
                                 timeout=timeout) as response:
            if response.status_code != 200:
                await response.aread()
                return {"generate_error": API_ERRORS.get(response.status_code, "server_error"
                                                         if response.status_code >= 500 else "http"),
                        "generate_status": response.status_code, "detail": _api_message(response)}
            async for line in response.iter_lines():
                if line.startswith("data:") and line[5:].strip() != "[DONE]":
                    return {"first_token_s": time.perf_counter() - start, "connect_s": response.connect_seconds}
        return {"generate_error": "empty", "detail": "the stream ended without a token"}
    except HTTPError as exc:
        return {"generate_error": classify(exc), "detail": str(exc)[:200]}
