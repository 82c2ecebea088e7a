"""Probes: each observes one part of the world and returns its facts (checks/facts.py), never a
verdict. They run concurrently; each has its own timeout. The API key is sent, never returned.
HTTP goes through adapters/http.py (httpx)."""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlparse

from adapters import http
from adapters.http import HTTPError
from checks.facts import Api, Generation, LocalLLM, Port


async def _drop(task: asyncio.Future | None) -> None:
    """Cancel a request no longer needed, and wait until its connection is let go."""
    if task is not None:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):  # its outcome is no longer wanted
            pass


classify = http.kind_of  # an exception -> the operator's words: refused, timeout, dns, tls, protocol, error


def host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or (443 if parsed.scheme == "https" else 80)


async def tcp(url: str, timeout: float) -> Port:
    host, port = host_port(url)
    start = time.perf_counter()
    try:
        async with http.failures(f"connecting to {host}:{port}", url):
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.close()
        return Port(host, port, open=True, seconds=time.perf_counter() - start)
    except HTTPError as exc:
        return Port(host, port, open=False, error=exc.kind, seconds=time.perf_counter() - start)


async def ollama(url: str, model: str, timeout: float, generate: bool = True) -> LocalLLM:
    """/api/version, /api/tags (is the model there?), /api/show and a one-token generate, asked at once."""
    facts = LocalLLM(url, model)
    async with http.client_for(url, timeout) as client:
        token = asyncio.ensure_future(_ollama_first_token(client, url, model)) if generate else None
        try:
            async with http.failures(f"asking {url}", url):
                version, tags, show = await asyncio.gather(
                    client.get(url + "/api/version"), client.get(url + "/api/tags"),
                    client.post(url + "/api/show", json={"model": model}))
            facts.version = version.json().get("version")
            names = [m.get("model") or m.get("name") for m in tags.json().get("models", [])]
            facts.model_present = model in names or f"{model}:latest" in names
            # A model whose template blob is gone still lists and may even generate: /api/show tells.
            facts.template = bool(show.status_code == 200 and (show.json().get("template") or "").strip())
        except (HTTPError, ValueError, AttributeError) as exc:  # AttributeError: JSON, not an object
            await _drop(token)
            facts.error, facts.detail = classify(exc), str(exc)[:200]
            return facts
        if token and facts.model_present:
            facts.generation = await token
        else:
            await _drop(token)
    return facts


async def _ollama_first_token(client, url: str, model: str) -> Generation:
    body = {"model": model, "prompt": "hi", "stream": True, "options": {"num_predict": 1}}
    timing, start = http.Timing(), time.perf_counter()
    try:
        async with http.failures(f"generating on {url}", url), \
                client.stream("POST", url + "/api/generate", json=body, extensions={"trace": timing}) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")
                return Generation(error="overloaded" if response.status_code == 503 else "http",
                                  status=response.status_code, detail=text[:200])
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                item = json.loads(line)
                if "error" in item:  # Ollama reports failures mid-stream with status 200
                    return Generation(error="stream_error", detail=str(item["error"])[:200])
                return Generation(first_token_s=time.perf_counter() - start, connect_s=timing.connect_s)
        return Generation(error="empty", detail="the stream ended without a token")
    except (HTTPError, ValueError) as exc:
        return Generation(error=classify(exc), detail=str(exc)[:200])


API_ERRORS = {401: "bad_key", 403: "bad_key", 429: "throttled"}


def _api_error(status: int) -> str:
    return API_ERRORS.get(status, "server_error" if status >= 500 else "http")


async def api(url: str, model: str, key: str, timeout: float, generate: bool = True,
              ca_file: str | None = None) -> Api:
    """Authentication through the models list, and a one-token streamed completion."""
    facts = Api(url, model)
    if not key:
        facts.auth = "no_key"
        return facts
    headers = {"Authorization": f"Bearer {key}"}
    async with http.client_for(url, timeout, ca_file) as client:
        # Authentication and the first token are asked at once: the run lasts as long as the
        # slower of the two, not their sum.
        token = asyncio.ensure_future(_api_first_token(client, url, model, headers)) if generate else None
        try:
            async with http.failures(f"asking {urlparse(url).netloc}", url):
                response = await client.get(url + "/models", headers=headers)
        except HTTPError as exc:
            await _drop(token)
            facts.auth, facts.detail = exc.kind, str(exc)[:200]
            return facts
        facts.status = response.status_code
        if response.status_code != 200:
            await _drop(token)
            facts.auth, facts.detail = _api_error(response.status_code), _api_message(response)
            return facts
        facts.auth = "ok"
        if token:
            facts.generation = await token
    return facts


def _api_message(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict):
        return response.text[:200]
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    return f"{error.get('code', '')} {error.get('message', '')}".strip()[:200]


async def api_call(url: str, model: str, key: str, timeout: float, extra: dict,
                   ca_file: str | None = None) -> Generation:
    """One streamed one-token completion with ``extra`` in its body (the fields a client of the
    API sends beyond the basics: ``enable_thinking``, ``tools``): its first token, or its error."""
    async with http.client_for(url, timeout, ca_file) as client:
        return await _api_first_token(client, url, model, {"Authorization": f"Bearer {key}"}, extra)


async def _api_first_token(client, url: str, model: str, headers: dict, extra: dict | None = None) -> Generation:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 1,
            **(extra or {})}
    timing, start = http.Timing(), time.perf_counter()
    try:
        async with http.failures(f"a completion from {urlparse(url).netloc}", url), \
                client.stream("POST", url + "/chat/completions", json=body, headers=headers,
                              extensions={"trace": timing}) as response:
            if response.status_code != 200:
                await response.aread()
                return Generation(error=_api_error(response.status_code), status=response.status_code,
                                  detail=_api_message(response))
            async for line in response.aiter_lines():
                if line.startswith("data:") and line[5:].strip() != "[DONE]":
                    return Generation(first_token_s=time.perf_counter() - start, connect_s=timing.connect_s)
        return Generation(error="empty", detail="the stream ended without a token")
    except HTTPError as exc:
        return Generation(error=exc.kind, detail=str(exc)[:200])
