"""The compose-env sandbox: the seed's stack as emulators (the sandbox image), its base
docker-compose.yml rendered from templates/sandbox-compose.yml.j2, stage 0 written beside it on
a fresh folder; and what the demo sends a chat to. rehearsal/sandbox_stack.py builds the image
and calls ``up``."""
from __future__ import annotations

import time
from pathlib import Path

from adapters import compose
from compose_stack.templating import environment
from core import state
from core.config import Settings
from core.files import write_files
from core.services import LOCAL_LLM_SERVICE, WEIGHTS_SERVICE
from targets.compose_env.merged import record_applied_base
from targets.compose_env.render import SECRET_FILES, context, render

TEMPLATES = Path(__file__).resolve().parent / "templates"
ADOPTS_FIRST = False   # the sandbox starts at stage 0, written by the toolkit


def up(settings: Settings, sb, *, out=print, wait_timeout: int = 180) -> None:
    """A fresh deploy directory gets stage 0; an existing one is started as it stands, so that
    `down` then `up` is not a silent rollback. ``sb``: the rehearsal's SandboxSettings."""
    if not (settings.deploy_dir / compose.BASE_FILE).exists():
        first = min(settings.stages)
        base = base_file(settings, front=sb.llm_front)
        write_files(settings.deploy_dir, {compose.BASE_FILE: base})
        write_files(settings.deploy_dir, render(settings, settings.stage(first), base=base), SECRET_FILES)
        compose.point_compose_file(settings.deploy_dir)
        state.write(settings.deploy_dir, stage=first, since=time.time(), base_sha256=record_applied_base(settings))
        state.audit(settings.deploy_dir, "sandbox-up", to=first, result="ok")
        out(f"wrote the sandbox's base {compose.BASE_FILE} and rendered stage {first} into {settings.deploy_dir}")
    base = compose.argv(settings.project, settings.deploy_dir)
    services = compose.run(base + ["config", "--services"]).stdout.split()
    local = settings.compose_names[LOCAL_LLM_SERVICE]
    if local in services:
        store = settings.local_llm.store_path
        done = compose.run(base + ["run", "--rm", "--no-deps", "-T", local, "python3", "-m",
                                   "sandbox.store", store, "--size-gb", str(sb.store_size_gb), "--if-empty"])
        out(done.stdout.strip())
    compose.run(base + ["up", "-d", "--wait", "--wait-timeout", str(wait_timeout)], timeout=wait_timeout + 60)
    out(compose.run(["docker", "compose", "--project-name", settings.project, "ps", "--all"]).stdout)


def base_file(settings: Settings, *, front: bool = True) -> str:
    """The sandbox's base docker-compose.yml (the operator's file, for the emulated stack).
    ``front``: llm-service publishes no port and a small front (sandbox/front.py) calls it by its
    service name, on llm-service's published port, so moves replace it start-first; without it,
    llm-service publishes its port itself (the older shape: moves recreate it stop-first)."""
    template = environment(TEMPLATES).get_template("sandbox-compose.yml.j2")
    return template.render(context(settings, settings.stage(min(settings.stages)), ""), front=front,
                           weights_service=WEIGHTS_SERVICE)


def front(settings: Settings) -> tuple[str, str, dict, str]:
    """Where a chat enters the sandbox: (root URL, route, body, in words)."""
    return (f"http://127.0.0.1:{settings.services[WEIGHTS_SERVICE].publish}", "/chat", {"prompt": "你好"},
            "llm-service")


def containers(settings: Settings) -> list[str]:
    """The containers of the sandbox named as production names them (the demo refuses a host
    where one belongs to another stack)."""
    return [settings.local_llm.container]


def build(sb, *, rebuild: bool = False, out=print) -> None:
    """Images of this target's own beyond the sandbox image: none."""


def report_lines(settings: Settings) -> list[str]:
    """The demo's report on what this target's moves cost: nothing beyond the shared lines."""
    return []
