"""What the probes saw, as typed records: probes fill them, judge, gates and reports read their
attributes. Facts only, never a verdict; no field holds the API key."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Port:
    host: str
    port: int
    open: bool = False
    error: str | None = None  # refused, timeout, dns, ...
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Generation:
    """One streamed one-token request: the first token's time, or why none came."""
    first_token_s: float | None = None
    connect_s: float = 0.0    # connecting and the TLS handshake, part of first_token_s
    error: str | None = None  # overloaded, stream_error, empty, bad_key, throttled, timeout, ...
    status: int | None = None
    detail: str = ""


@dataclass
class Endpoint:
    """What the LLM probes share: where they asked, about which model, and how long it took."""
    url: str
    model: str
    detail: str = ""
    generation: Generation | None = None
    seconds: float = 0.0


@dataclass
class LocalLLM(Endpoint):
    version: str | None = None
    model_present: bool | None = None
    template: bool | None = None  # /api/show answers a template: the model's files are whole
    error: str | None = None      # the Ollama API itself failed


@dataclass
class Api(Endpoint):
    auth: str | None = None  # ok, no_key, bad_key, throttled, server_error, http, timeout, dns, ...
    status: int | None = None


@dataclass
class Container:
    container: str
    state: str | None
    health: str | None = None
    started_at: str | None = None
    pid: int | None = None
    env: dict[str, str] = field(default_factory=dict)  # the drift variables only

    @property
    def running(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")

    @property
    def words(self) -> str:
        return f"{self.state}" + (f", {self.health}" if self.health else "")


@dataclass
class Host:
    mem_available: int
    mem_total: int
    load1: float
    cpus: int
    disk_path: str
    disk_free: int
    listener: dict | None = None  # {"pid", "process"} of who listens on the local LLM's port
    local_model_rss: int | None = None


@dataclass
class Stack:
    engine: str                 # ok, unreachable, timeout
    detail: str = ""
    services: dict[str, Container] = field(default_factory=dict)
    local_container: Container | None = None
    store: str | None = None    # the local model's store on the host
    integrity: list[str] | str | None = None  # damage found, or why it could not be read
    orphans: list[str] | str | None = None    # containers no declared service owns; why unknown; None: not deployed
    host: Host | None = None
    seconds: float = 0.0
