"""Typed, validated settings, read from Invoke's merged config (``defaults.yaml`` and the
levels over it) under the ``migrate`` key. Invalid values stop the run naming the dotted key and
what is allowed, before anything touches the host."""
from __future__ import annotations

import difflib
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any, Mapping

from core import defaults, registry, secrets
from core.alert_settings import Alerts, load as load_alerts
from core import services as services_table
from core.services import parse_weights
from core.envfile import control_character
from core.errors import ConfigError, shown

LIMIT_NAMES = tuple(s.limit for s in services_table.STACK)
STACK_SERVICES = tuple(s.name for s in services_table.STACK)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")   # Compose's rule for service names
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Ollama's names: [namespace/]name[:tag], each part starting with a letter or digit, so that no
# part can be `..` when the name becomes a path in the model store.
_MODEL = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*/){0,2}[A-Za-z0-9][A-Za-z0-9_.-]*(:[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
_VOLUME = re.compile(r"^([a-z0-9][a-z0-9_.-]*|(/|\./|\.\./)[^\s:]*)$")


@dataclass(frozen=True)
class Service:
    """A service of the stack. ``compose_service`` is its name in the operator's docker-compose.yml;
    the rest (image, command, ports, healthcheck, environment) only describes the sandbox's own
    base file: the operator's services are theirs, and the toolkit needs none of it."""
    compose_service: str
    image: str | None = None
    command: tuple[str, ...] | None = None
    port: int = 8000
    publish: int | None = None
    healthcheck: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class LocalLLM:
    container: str
    service: Service
    url: str          # as the stack reaches it
    probe_url: str    # as this toolkit reaches it
    model: str
    timeout: float
    concurrency: int
    store_volume: str # a named volume, or a host path (./models, /srv/ollama) bind-mounted instead
    store_mount: str  # where the volume is mounted in the container
    store_path: str   # the Ollama store inside the container ($OLLAMA_MODELS)
    store_host_path: str | None = None  # where the store is on the host; None = derive it
    runs_on: str = "container"  # "host": an Ollama the operator runs on the host, no container of the stack

    @property
    def on_host(self) -> bool:
        return self.runs_on == "host"

    @property
    def store_is_path(self) -> bool:
        return self.store_volume.startswith(("/", "./", "../"))


@dataclass(frozen=True)
class Api:
    base_url: str     # as the stack reaches it
    probe_url: str    # as this toolkit reaches it
    model: str
    timeout: float
    concurrency: int
    ca_file: str | None = None  # PEM bundle trusted for probe_url instead of certifi's (a private endpoint)


@dataclass(frozen=True)
class Price:
    """What the API charges for a model, per 1000 tokens, as of a date (prices change: the report
    prints the date so that nobody mistakes an old table for today's price)."""
    input_per_1k: float
    output_per_1k: float
    currency: str
    as_of: str


@dataclass(frozen=True)
class Stage:
    number: int
    name: str
    qwen_weight: int
    local_weight: int
    local_llm: bool
    limits: Mapping[str, int]
    requires_key: bool

    @property
    def weights(self) -> str:
        return services_table.format_weights({"qwen": self.qwen_weight, "local": self.local_weight})

    @property
    def api_share(self) -> float:
        """The part of the traffic the stage's weights send to the API (0 to 1)."""
        return self.qwen_weight / (self.qwen_weight + self.local_weight)

    @property
    def uses_api(self) -> bool:
        """The key is needed: the stage says so, or its weights send the API any traffic."""
        return self.requires_key or self.qwen_weight > 0


@dataclass(frozen=True)
class Health:
    timeout: float = 10.0
    local_warn_ms: float = 400
    local_crit_ms: float = 1000
    api_warn_ms: float = 1500
    api_crit_ms: float = 3000
    mem_available_warn_mb: float = 1024
    disk_free_warn_gb: float = 5
    history_max_bytes: int = 1_048_576
    history_keep: int = 3


@dataclass(frozen=True)
class Gates:
    validation_prompts: int = 20       # gate to 2: sample prompts through the API
    validation_success: float = 0.95   # share that must succeed
    validation_p95_ms: float = 3000    # p95 first-token bound
    history_records: int = 12          # gate to 3: the last K health records since stage 2 began ...
    history_min_hours: float = field(default=0.0, metadata={"min": 0})   # ... spanning this long (0: no time asked)
    wait_timeout: int = 180            # seconds for `compose up --wait`
    keep_backups: int = 10
    quiet_wait: int = field(default=300, metadata={"min": 0})   # seconds a server restart waits for open conversations


@dataclass(frozen=True)
class Decommission:
    drain_timeout: float = 60       # seconds to wait for open connections to 11434 to end
    stop_timeout: int = 30          # `docker stop` grace period
    quarantine_dir: str | None = None  # default for --quarantine; None = delete


OUTAGE = -1   # the stage number the state records while `invoke outage` holds the stack on the local model


@dataclass(frozen=True)
class Settings:
    deploy_dir: Path
    project: str
    bind: str
    services: Mapping[str, Service]
    extra_services: Mapping[str, Service]
    local_llm: LocalLLM
    api: Api
    stages: Mapping[int, Stage]
    health: Health = Health()
    gates: Gates = Gates()
    decommission: Decommission = Decommission()
    gates_by_stage: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    api_key: str = field(repr=False, default="")
    key_source: str = "no key: set QWEN_API_KEY or DASHSCOPE_API_KEY"  # where the key came from, or why none
    target: str = field(default_factory=registry.default)   # the kind of stack migrated (core/registry.py)
    sections: Mapping[str, Any] = field(default_factory=dict)   # each target's own section, as it validated it
    alerts: Alerts = Alerts()
    api_prices: Mapping[str, Price] = field(default_factory=dict)   # model -> price, for the bench's cost section

    @property
    def compose_names(self) -> dict[str, str]:
        """Each role of the stack (vad, asr, tts, llm-service, local-llm) -> its service's name
        in the operator's docker-compose.yml."""
        names = {role: svc.compose_service for role, svc in self.services.items()}
        names[services_table.LOCAL_LLM_SERVICE] = self.local_llm.service.compose_service
        return names

    @property
    def stop_grace_s(self) -> int:
        """How long Compose lets a stopping container finish: the longest request it may be
        serving (an LLM call up to its timeout), plus a margin."""
        return int(max(self.api.timeout, self.local_llm.timeout)) + 5

    @property
    def history_path(self) -> Path:
        return self.deploy_dir / "health-history.jsonl"

    @property
    def outage(self) -> Stage:
        """Where `invoke outage` puts the stack when the API fails after the cut-over: every chat
        on the local model (weights qwen:0,local:100), with the first stage's limits."""
        first = self.stages[min(self.stages)]
        return Stage(OUTAGE, "outage", 0, 100, True, first.limits, False)

    def stage(self, number: int) -> Stage:
        if number == OUTAGE:
            return self.outage
        if number not in self.stages:
            raise ConfigError(f"unknown stage {number}", where="--stage",
                              hint="choose one of " + ", ".join(
                                  f"{s.number} ({s.name})" for s in self.stages.values()))
        return self.stages[number]


# --- small validators: each names the dotted key -----------------------------------------------
SERVICE_KEYS = ("compose_service", "image", "command", "port", "publish", "healthcheck", "environment")
KNOWN = {  # every setting under migrate:, by dotted place; a typo is an error, never ignored
    "migrate": ("target", "deploy_dir", "project", "bind", "services", "extra_services", "local_llm", "api",
                "stages", "health", "gates", "decommission", "sandbox", "alerts", "fleet"),   # + each target's section
    "service": SERVICE_KEYS,
    "local_llm": SERVICE_KEYS + ("container", "url", "probe_url", "model", "timeout", "concurrency", "store_volume",
                                 "store_mount", "store_path", "store_host_path", "runs_on"),
    "api": ("base_url", "probe_url", "model", "timeout", "concurrency", "key", "ca_file", "prices"),
    "stage": ("stage", "name", "weights", "local_llm", "requires_key", "limits"),
    "decommission": ("drain_timeout", "stop_timeout", "quarantine_dir"),
}


def _known(data, allowed, where: str) -> None:
    """Refuse a key that is not a setting, naming it, the known ones, and the closest match."""
    if not isinstance(data, Mapping):
        return
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            raise ConfigError(f"unknown setting {key!r}" + (f": did you mean {close[0]!r}?" if close else ""),
                              where=f"{where}.{key}", hint="known here: " + ", ".join(allowed))


def _get(data: Mapping, key: str, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", where=where)
    if key not in data or data[key] is None:
        raise ConfigError("missing", where=f"{where}.{key}", hint="set it in /etc/invoke.yaml or your -f file")
    return data[key]


def _str(data, key, where, pattern: re.Pattern | None = None, allowed: str = "") -> str:
    value = _get(data, key, where)
    if not isinstance(value, str) or not value.strip() or (pattern and not pattern.match(value)):
        raise ConfigError(f"invalid value {shown(value)}", where=f"{where}.{key}",
                          hint=allowed or "give a non-empty string")
    return _printable(value, f"{where}.{key}")


RUNS_ON = ("container", "host")


def _choice(data, key, where, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(key, default) if isinstance(data, Mapping) else default
    if value not in allowed:
        raise ConfigError(f"invalid value {shown(value)}", where=f"{where}.{key}", hint="one of: " + ", ".join(allowed))
    return value


def _printable(value: str, where: str) -> str:
    """Every value ends up in a rendered file: a newline there would add a line of its own."""
    position = control_character(value)
    if position is not None:
        raise ConfigError(f"character {position} is a control or non-printable character", where=where,
                          hint="remove it (a newline in a value would add lines to the rendered files)")
    return value


def _int(data, key, where, low: int, high: int) -> int:
    value = _get(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"invalid value {shown(value)}", where=f"{where}.{key}",
                          hint=f"give a whole number from {low} to {high}")
    return value


def _num(data, key, where, low: float, high: float) -> float:
    value = _get(data, key, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"invalid value {shown(value)}", where=f"{where}.{key}",
                          hint=f"give a number from {low} to {high}")
    return float(value)


def _url(data, key, where) -> str:
    value = _str(data, key, where)
    if not re.match(r"^https?://[^\s/]+\S*$", value):
        raise ConfigError(f"invalid URL {shown(value)}", where=f"{where}.{key}",
                          hint="give an http:// or https:// URL")
    return value.rstrip("/")


def _argv(value, where) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"invalid value {shown(value)}", where=where, hint="give a list of strings")
    return tuple(_printable(v, f"{where}[{i}]") for i, v in enumerate(value))


def _environment(data, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping of NAME: value", where=where)
    out = []
    for name, value in data.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ConfigError(f"invalid variable name {shown(name)}", where=f"{where}.{name}",
                              hint="letters, digits and _, not starting with a digit")
        if isinstance(value, (Mapping, list)):
            raise ConfigError(f"invalid value {shown(value)}", where=f"{where}.{name}", hint="a string or a number")
        out.append((name, _printable(str(value), f"{where}.{name}")))
    return tuple(out)


def _service(data: Mapping, where: str, role: str, allowed=SERVICE_KEYS) -> Service:
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, got {shown(data)}", where=where,
                          hint="e.g. {compose_service: NAME} (its name in your docker-compose.yml)")
    _known(data, allowed, where)
    publish = data.get("publish") if isinstance(data, Mapping) else None
    if publish is not None and (isinstance(publish, bool) or not isinstance(publish, int)
                                or not 1 <= publish <= 65535):
        raise ConfigError(f"invalid port {shown(publish)}", where=f"{where}.publish",
                          hint="give a port from 1 to 65535, or null to publish nothing")
    environment = _environment(data.get("environment") or {}, f"{where}.environment")
    return Service(compose_service=_str(data, "compose_service", where, _SERVICE_NAME,
                                        "a Compose service name") if data.get("compose_service") is not None else role,
                   image=_str(data, "image", where) if data.get("image") is not None else None, command=_argv(data.get("command"), f"{where}.command"),
                   port=_int(data, "port", where, 1, 65535) if "port" in data else 8000,
                   publish=publish, healthcheck=_argv(data.get("healthcheck"), f"{where}.healthcheck"),
                   environment=environment)


def _stage(data: Mapping, where: str) -> Stage:
    _known(data, KNOWN["stage"], where)
    weights = _str(data, "weights", where)
    try:
        parsed = parse_weights(weights)
    except ValueError as exc:
        raise ConfigError(str(exc), where=f"{where}.weights", hint="write it as qwen:N,local:M (the seed's format)") from None
    qwen, local = parsed.get("qwen", 0), parsed.get("local", 0)
    if qwen + local == 0:
        raise ConfigError("no provider gets traffic", where=f"{where}.weights")
    limits_data = _get(data, "limits", where)
    _known(limits_data, LIMIT_NAMES, f"{where}.limits")
    limits = {name: _int(limits_data, name, f"{where}.limits", 1, 10000) for name in LIMIT_NAMES}
    local_llm = _get(data, "local_llm", where)
    if not isinstance(local_llm, bool):
        raise ConfigError(f"invalid value {shown(local_llm)}", where=f"{where}.local_llm", hint="true or false")
    if local and not local_llm:
        raise ConfigError("local weight is above 0 but the local LLM is not in compose",
                          where=f"{where}.weights", hint="set local:0 or local_llm: true")
    return Stage(number=_int(data, "stage", where, 0, 99), name=_str(data, "name", where, _NAME),
                 qwen_weight=qwen, local_weight=local, local_llm=local_llm, limits=limits,
                 requires_key=bool(data.get("requires_key", qwen > 0)))


def _section(cls, data: Mapping, where: str):
    """A flat section of numbers: defaults from the dataclass, each value range-checked."""
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping", where=where)
    _known(data, tuple(cls.__dataclass_fields__), where)
    values = {}
    for name, fld in cls.__dataclass_fields__.items():
        if name in data:
            low = fld.metadata.get("min", 1 if fld.type in ("int", int) else 0.001)
            values[name] = (_int(data, name, where, low, 10 ** 10) if fld.type in ("int", int)
                            else _num(data, name, where, low, 10 ** 7))
    return cls(**values)


def _health(data: Mapping, where: str) -> Health:
    health = _section(Health, data, where)
    for low, high in (("local_warn_ms", "local_crit_ms"), ("api_warn_ms", "api_crit_ms")):
        if getattr(health, low) >= getattr(health, high):
            raise ConfigError(f"{low} must be below {high}", where=f"{where}.{low}")
    return health


GATE_NAMES = ("key", "api", "server-calls", "validation", "history")


def _gates_by_stage(data, where: str, stages) -> dict[int, tuple[str, ...]]:
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping of stage: [gate, ...]", where=where)
    out = {}
    for stage, names in data.items():
        if not str(stage).isdigit() or int(stage) not in stages:
            raise ConfigError(f"no stage {stage}", where=f"{where}.{stage}", hint="use a stage number of migrate.stages")
        if not isinstance(names, list) or any(n not in GATE_NAMES for n in names):
            raise ConfigError(f"invalid gates {shown(names)}", where=f"{where}.{stage}",
                              hint="a list of: " + ", ".join(GATE_NAMES))
        out[int(stage)] = tuple(names)
    return out


def _decommission(data: Mapping, where: str) -> Decommission:
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping", where=where)
    _known(data, KNOWN["decommission"], where)
    qdir = data.get("quarantine_dir")
    if qdir is not None and (not isinstance(qdir, str) or not qdir.startswith("/")):
        raise ConfigError(f"invalid value {shown(qdir)}", where=f"{where}.quarantine_dir", hint="an absolute path, or null")
    numbers = _section(Decommission, {k: v for k, v in data.items() if k != "quarantine_dir"}, where)
    return Decommission(numbers.drain_timeout, numbers.stop_timeout, qdir)


def _gates(data: Mapping, where: str) -> Gates:
    _known(data, (*Gates.__dataclass_fields__, "by_stage"), where)
    data = {k: v for k, v in data.items() if k != "by_stage"} if isinstance(data, Mapping) else data
    gates = _section(Gates, data, where)
    if gates.validation_success > 1:
        raise ConfigError("a share from 0 to 1", where=f"{where}.validation_success")
    return gates


def _bind(data, where: str) -> str:
    value = _get(data, "bind", where)
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise ConfigError(f"invalid value {shown(value)}", where=f"{where}.bind",
                          hint="an IP address, e.g. 127.0.0.1 (published ports listen there only)") from None


# What a target validates its own section with (its TargetSpec.settings): the same rules and
# the same errors as the rest of migrate:.
known, text, integer, url, SERVICE_NAME = _known, _str, _int, _url, _SERVICE_NAME


def plain(value: Any) -> Any:
    """Invoke's config proxies -> plain dicts and lists, so validation sees ordinary data."""
    if hasattr(value, "keys") and hasattr(value, "__getitem__"):
        return {str(k): plain(value[k]) for k in value.keys()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _target(data: Mapping, where: str) -> str:
    name = data.get("target", registry.default())
    if name not in registry.TARGETS:
        raise ConfigError(f"unknown target {shown(name)}", where=f"{where}.target",
                          hint="one of: " + ", ".join(registry.names()) + " ("
                               + "; ".join(f"{s.name}: {s.summary}" for s in registry.specs()) + ")")
    return name


def _target_sections(root: Mapping, where: str) -> dict[str, Any]:
    """Each target's own section under migrate:, validated by that target whichever target runs
    (a typo in any is an error; a target's own task may read its section on another's config)."""
    return {spec.section: registry.load(spec.settings)(root.get(spec.section) or {}, f"{where}.{spec.section}")
            for spec in registry.specs() if spec.section}


def _prices(data, where: str) -> dict[str, Price]:
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping of model: price", where=where,
                          hint="e.g. {qwen-plus: {input_per_1k: 0.0008, output_per_1k: 0.002, currency: CNY, "
                               "as_of: '2025-09-01'}}")
    out = {}
    for model, price in data.items():
        w = f"{where}.{model}"
        _known(price, tuple(Price.__dataclass_fields__), w)
        out[str(model)] = Price(_num(price, "input_per_1k", w, 0, 1000), _num(price, "output_per_1k", w, 0, 1000),
                                _str(price, "currency", w, re.compile(r"^[A-Z]{3}$"), "a currency code, e.g. CNY"),
                                _str(price, "as_of", w, re.compile(r"^\d{4}-\d{2}-\d{2}$"), "a date, YYYY-MM-DD"))
    return out


def _ca_file(data: Mapping, where: str) -> str | None:
    if data.get("ca_file") in (None, ""):
        return None
    path = os.path.abspath(os.path.expanduser(_str(data, "ca_file", where)))
    if not os.path.isfile(path):
        raise ConfigError(f"the CA file {path} is not a readable file", where=f"{where}.ca_file",
                          hint="give the PEM file of the CA that signed the API's certificate, or remove the key")
    return path


def load(config: Mapping, env: Mapping[str, str] = os.environ, deployed_key: bool = True) -> Settings:
    """Validate the ``migrate`` section of Invoke's config into Settings. ``deployed_key``: when
    neither the config (sandbox) nor the environment has a key, take the deployed one."""
    root = _get(plain(config), "migrate", "config")
    where = "migrate"
    _known(root, KNOWN["migrate"] + tuple(s.section for s in registry.specs() if s.section), where)
    services_data = root.get("services") or {}
    if not isinstance(services_data, Mapping):
        raise ConfigError("expected a mapping of role: settings", where=f"{where}.services",
                          hint=f"roles: {', '.join(STACK_SERVICES)}; each may set compose_service")
    _known(services_data, STACK_SERVICES, f"{where}.services")
    services = {name: _service(services_data.get(name) or {}, f"{where}.services.{name}", name)
                for name in STACK_SERVICES}
    extra = root.get("extra_services") or {}
    if not isinstance(extra, Mapping):
        raise ConfigError("expected a mapping of service name: settings", where=f"{where}.extra_services")
    for name in extra:
        if not isinstance(name, str) or not _SERVICE_NAME.match(name) or name in (*STACK_SERVICES, "local-llm"):
            raise ConfigError(f"invalid service name {shown(name)}", where=f"{where}.extra_services.{name}",
                              hint="letters, digits, '.', '_' and '-', starting with a letter or digit, "
                                   "and not a name the stack uses")
    extra_services = {name: _service(svc, f"{where}.extra_services.{name}", name) for name, svc in extra.items()}
    ll = _get(root, "local_llm", where)
    lw = f"{where}.local_llm"
    local = LocalLLM(container=_str(ll, "container", lw, _NAME), service=_service(ll, lw, services_table.LOCAL_LLM_SERVICE,
                                                                              KNOWN["local_llm"]),
                     url=_url(ll, "url", lw), probe_url=_url(ll, "probe_url", lw),
                     model=_str(ll, "model", lw, _MODEL, "an Ollama model name, e.g. qwen2:7b"),
                     timeout=_num(ll, "timeout", lw, 0.1, 600),
                     concurrency=_int(ll, "concurrency", lw, 1, 10000),
                     store_volume=_str(ll, "store_volume", lw, _VOLUME,
                                       "a volume name, or a host path starting with / or ./ (bind mount)"),
                     store_mount=_str(ll, "store_mount", lw), store_path=_str(ll, "store_path", lw),
                     store_host_path=_str(ll, "store_host_path", lw) if ll.get("store_host_path") else None,
                     runs_on=_choice(ll, "runs_on", lw, RUNS_ON, "container"))
    if not local.store_path.startswith(local.store_mount):
        raise ConfigError(f"{local.store_path} is not inside {local.store_mount}",
                          where=f"{lw}.store_path", hint="the store must live on the model volume")
    ad = _get(root, "api", where)
    aw = f"{where}.api"
    _known(ad, KNOWN["api"], aw)
    api = Api(base_url=_url(ad, "base_url", aw), probe_url=_url(ad, "probe_url", aw) if ad.get("probe_url")
              else _url(ad, "base_url", aw), model=_str(ad, "model", aw),
              timeout=_num(ad, "timeout", aw, 0.1, 600), concurrency=_int(ad, "concurrency", aw, 1, 10000),
              ca_file=_ca_file(ad, aw))
    stages_data = _get(root, "stages", where)
    if not isinstance(stages_data, list) or not stages_data:
        raise ConfigError("expected a non-empty list of stages", where=f"{where}.stages")
    stages = {}
    for i, item in enumerate(stages_data):
        stage = _stage(item, f"{where}.stages[{i}]")
        if stage.number in stages:
            raise ConfigError(f"stage {stage.number} is defined twice", where=f"{where}.stages[{i}].stage")
        stages[stage.number] = stage
    deploy_dir = Path(os.path.expanduser(_str(root, "deploy_dir", where)))
    # A key in the config is for the sandbox only; real keys come from the env or the deployment.
    configured = ad.get("key")
    if configured is not None and not isinstance(configured, str):
        raise ConfigError("invalid value", where=f"{aw}.key", hint="a string (the sandbox's key only)")
    target = _target(root, where)
    if local.on_host and urlsplit(local.url).hostname in (local.container, local.service.compose_service):
        raise ConfigError(f"runs_on: host, but url names {urlsplit(local.url).hostname}, a container of the stack",
                          where=f"{lw}.url", hint="give the host's Ollama as the router reaches it, e.g. "
                                                  "http://host.docker.internal:11434")
    if local.on_host and not registry.spec(target).host_ollama:
        hosts = [s.name for s in registry.specs() if s.host_ollama]
        raise ConfigError(f"runs_on: host is for the {', '.join(hosts)} target only", where=f"{lw}.runs_on",
                          hint=f"the {target} stack runs its local model as the Compose service "
                               f"{local.service.compose_service}: leave runs_on out (container)")
    key = secrets.find_key(configured or "", env, deploy_dir if deployed_key else None, registry.spec(target).key_place)
    return Settings(deploy_dir=deploy_dir, project=_str(root, "project", where, _NAME),
                    bind=_bind(root, where), services=services, extra_services=extra_services,
                    local_llm=local, api=api, stages=dict(sorted(stages.items())),
                    health=_health(root.get("health") or {}, f"{where}.health"),
                    gates=_gates(root.get("gates") or {}, f"{where}.gates"),
                    decommission=_decommission(root.get("decommission") or {}, f"{where}.decommission"),
                    gates_by_stage=_gates_by_stage((root.get("gates") or {}).get("by_stage") or {},
                                                   f"{where}.gates.by_stage", stages),
                    api_key=key.key, key_source=key.source, target=target,
                    sections=_target_sections(root, where),
                    alerts=load_alerts(root.get("alerts"), env, f"{where}.alerts"),
                    api_prices=_prices(ad.get("prices") or {}, f"{aw}.prices"))


def project_settings(target: str | None = None) -> Settings:
    """The toolkit's defaults.yaml, no key anywhere; ``target`` in place of the one it names
    (the reviewable copies under compose/ are rendered from these)."""
    data = defaults.load()
    if target:
        data["migrate"]["target"] = target
    return load(data, env={}, deployed_key=False)
