"""This target's sandbox on the host: the upstream server's folder as an operator has it before
the migration (their docker-compose.yml and data/.config.yaml, the local model selected), brought
up and healthy. Nothing of the toolkit's is written: `invoke phase --stage 0` adopts it.
rehearsal/sandbox_stack.py builds the image and calls ``up``; the demo asks ``front``."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from adapters import compose, docker_api
from core import state
from core.config import Settings
from core.errors import DockerError
from core.files import write_files
from core.services import LOCAL_LLM_SERVICE
from compose_stack.templating import environment
from litellm_router import image as router_image
from targets.xiaozhi_server import CONFIG_FILE
from targets.xiaozhi_server.settings import own

TEMPLATES = Path(__file__).resolve().parent / "templates"
ADOPTS_FIRST = True   # their server as found: the demo's stage 0 adopts it


def files(settings: Settings, sb) -> dict[str, str]:
    """Their docker-compose.yml and data/.config.yaml, as the sandbox starts them. ``sb``: the
    rehearsal's SandboxSettings."""
    xs = own(settings)
    env = environment(TEMPLATES)
    base = env.get_template("sandbox-xiaozhi-compose.yml.j2").render(
        project=settings.project, image=sb.image, server=xs, bind=settings.bind,
        http_port=urlparse(xs.http_url).port or 80, ota_port=urlparse(xs.ota_url).port or 80,
        local_service=settings.compose_names[LOCAL_LLM_SERVICE], local_llm=settings.local_llm,
        extra_services=settings.extra_services, startup=sb.server_startup_s)
    config = env.get_template("sandbox-xiaozhi-config.yaml.j2").render(
        local_entry=xs.local_entry, model=settings.local_llm.model, local_url=settings.local_llm.url)
    return {compose.BASE_FILE: base, CONFIG_FILE: config}


def up(settings: Settings, sb, *, out=print, wait_timeout: int = 180) -> None:
    client = docker_api.client()
    if not router_image.up_to_date(client):
        raise DockerError(f"the router's image {router_image.TAG} is missing or older than its sources",
                          where="docker images", hint="run `invoke -f sandbox-xiaozhi.yaml sandbox.build`")
    d = settings.deploy_dir
    missing = {name: text for name, text in files(settings, sb).items() if not (d / name).exists()}
    if missing:  # an existing file is the operator's by now: never overwritten
        write_files(d, missing)
        out(f"wrote the sandbox server's {' and '.join(missing)} into {d}; `invoke phase --stage 0` adopts them")
    argv = compose.argv(settings.project, d)
    if not (d / compose.OVERRIDE_FILE).exists():  # not adopted yet: their file alone
        argv = argv[:argv.index("--file", argv.index("--file") + 1)]
    local = settings.compose_names[LOCAL_LLM_SERVICE]
    done = compose.run(argv + ["run", "--rm", "--no-deps", "-T", local, "python3", "-m", "sandbox.store",
                               settings.local_llm.store_path, "--size-gb", str(sb.store_size_gb), "--if-empty"])
    out(done.stdout.strip())
    compose.run(argv + ["up", "-d", "--wait", "--wait-timeout", str(wait_timeout)], timeout=wait_timeout + 60)
    out(compose.run(argv + ["ps", "--all"]).stdout)


def front(settings: Settings) -> tuple[str, str, dict, str]:
    """Where a chat enters the sandbox: the emulated server's sandbox-only route."""
    return own(settings).http_url, "/_sandbox/chat", {"text": "你好"}, "the server"


def containers(settings: Settings) -> list[str]:
    """The containers of the sandbox named as production names them (the demo refuses a host
    where one belongs to another stack)."""
    return [settings.local_llm.container, own(settings).container]


def build(sb, *, rebuild: bool = False, out=print) -> None:
    """The router's image, on the sandbox's local base (``sb``: the rehearsal's SandboxSettings)."""
    router_image.build(sb.local_base_image, rebuild=rebuild)


def report_lines(settings: Settings) -> list[str]:
    """The demo's report on what this target's moves cost: how long the server was away at each
    restart (the audit log's applied entries)."""
    away = [e.get("server_away_s") for e in state.audit_tail(settings.deploy_dir, 50)
            if e["event"] == "applied" and e.get("server_away_s") is not None]
    if not away:
        return []
    return [f"  the server restarted {len(away)} times; devices were offline "
            + ", ".join(f"{s:.1f}" for s in away) + " s (from the restart until 8000 answered again)"]
