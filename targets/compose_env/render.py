"""Pure rendering: (templates, settings, stage) -> {file name: text}: the stage's Compose
override (docker-compose.migrate.yml) and llm.env; the operator's docker-compose.yml is never
rendered. No I/O beyond reading the templates; writing is another step. Template errors name
the file and line."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jinja2
import yaml

from adapters import compose
from core import composefile, envfile
from core import services as services_table
from core.config import Settings, Stage
from core.errors import TemplateError
from core.secrets import KEY_PLACEHOLDER
from compose_stack.templating import environment

TEMPLATES = Path(__file__).resolve().parent / "templates"
FILES = {compose.OVERRIDE_FILE: "docker-compose.migrate.yml.j2", envfile.ENV_FILE: "llm.env.j2"}
SECRET_FILES = {envfile.ENV_FILE}  # written with mode 0600


def context(settings: Settings, stage: Stage, api_key: str, fingerprints: dict | None = None,
            base: str | None = None) -> dict:
    """``base``: their docker-compose.yml; a service of theirs with a stop_grace_period as long as
    the toolkit's (or one it cannot read) keeps it: the override never shortens theirs."""
    theirs = composefile.grace_periods(base)
    keep = {name for name, grace in theirs.items() if grace is None or grace >= settings.stop_grace_s}
    return {"project": settings.project, "bind": settings.bind, "stage": stage, "their_grace": keep,
            "services": settings.services, "extra_services": settings.extra_services,
            "local_llm": settings.local_llm, "api": settings.api, "api_key": api_key,
            "fingerprints": fingerprints or {}, "stop_grace_s": settings.stop_grace_s,
            "stack": services_table.STACK, "weights_variable": services_table.WEIGHTS_VARIABLE,
            "names": settings.compose_names, "local_service": services_table.LOCAL_LLM_SERVICE,
            "env_file": envfile.ENV_FILE, "off_profile": compose.OFF_PROFILE}


def render(settings: Settings, stage: Stage, *, redact: bool = False, base: str | None = None,
           templates: Path = TEMPLATES) -> dict[str, str]:
    """Every deployed file of ``stage``. With ``redact`` the key is a placeholder, for review.

    Two passes: the first renders without fingerprints; each service's fingerprint is then the
    hash of its own block and of the env files it reads (with the real key, so that a new key
    recreates it), and the second pass writes them as labels."""
    env = environment(templates)
    ctx = context(settings, stage, settings.api_key, base=base)
    first = _render_all(env, ctx, templates)
    prints = fingerprints(first)
    ctx = context(settings, stage, KEY_PLACEHOLDER if redact else settings.api_key, prints, base=base)
    return _render_all(env, ctx, templates)


def in_model(files: dict[str, str]) -> dict[str, dict]:
    """The override's services that are in the merged model, by Compose name, with their
    blocks (a service switched off by the never-activated profile is not)."""
    override = yaml.safe_load(files[compose.OVERRIDE_FILE]) or {}
    return {name: block or {} for name, block in (override.get("services") or {}).items()
            if compose.OFF_PROFILE not in ((block or {}).get("profiles") or [])}


def fingerprints(files: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, block in in_model(files).items():
        block = {k: v for k, v in block.items() if k != "labels"}
        digest = hashlib.sha256(json.dumps(block, sort_keys=True).encode())
        for env_file in block.get("env_file") or []:
            # Comments name the stage; only the variables reach the container.
            lines = [l for l in files.get(env_file, "").splitlines() if l.strip() and not l.lstrip().startswith("#")]
            digest.update("\n".join(lines).encode())
        out[name] = digest.hexdigest()[:16]
    return out


def environments(files: dict[str, str]) -> dict[str, dict[str, str]]:
    """What the override gives each service's environment, as its container will have it: the
    override's ``environment`` (Compose reads `$$` as `$`) and the env files it names, read as
    Compose does. (The operator's own variables are theirs: never compared.)"""
    out = {}
    for name, block in in_model(files).items():
        env = {}
        for env_file in block.get("env_file") or []:
            env.update(envfile.parse(files.get(env_file, "")))
        env.update({k: str(v).replace("$$", "$") for k, v in (block.get("environment") or {}).items()})
        out[name] = env
    return out


def _render_all(env, ctx, templates) -> dict[str, str]:
    out = {}
    for target, source in FILES.items():
        try:
            out[target] = env.get_template(source).render(ctx)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(exc.message or "syntax error", where=f"{exc.filename or source}:{exc.lineno}",
                                hint="fix the template, then run `invoke render`") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(str(exc), where=f"{templates / source}:{_template_line(exc, source)}",
                                hint="the template uses a value the context does not have") from None
    return out


def _template_line(exc: BaseException, source: str) -> str:
    """The template line an error was raised from, read off the traceback Jinja rewrites."""
    tb, line = exc.__traceback__, "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(source):
            line = str(tb.tb_lineno)
        tb = tb.tb_next
    return line
