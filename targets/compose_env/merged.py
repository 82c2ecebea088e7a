"""The effect of a stage on the merged model: `docker compose config` of the operator's file with
the deployed override, and with the stage's, normalised by Compose itself. This is
what the operator reads to see which service gets which value of the toolkit's (the values of
theirs are never shown, only that they change); the services whose merged definition changes
are what Compose recreates when their own file changed under the stage."""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from adapters import compose
from targets.compose_env.plan import base_digest
from targets.compose_env.render import environments
from core import envfile
from core.config import Settings
from core.files import atomic_write, read_text
from core.secrets import redact

APPLIED_BASE = Path("backups") / "base-applied.docker-compose.yml"   # the base file as last applied
_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD)", re.I)


def model(settings: Settings, *, base: Path | None = None, override: Path | None = None) -> dict:
    """Compose's normalised model of ``base`` (default: the deployed one) + ``override``."""
    args = compose.argv(settings.project, settings.deploy_dir, "config", "--format", "json",
                        base=base, override=override)
    return json.loads(compose.run(args, timeout=60).stdout)


def compare(settings: Settings, wanted: dict[str, str], base_changed: bool) -> tuple[str, set[str], dict]:
    """(the merged model's changes, deployed -> this stage; the services in the new model whose
    definition changes; the new model). When the base changed since it was last applied, "before"
    is the base as applied, so the changes include the effect of theirs."""
    d = settings.deploy_dir
    applied = d / APPLIED_BASE
    before_base = applied if base_changed and applied.is_file() else None
    with tempfile.TemporaryDirectory(prefix="xiaozhi-model-") as tmp:
        deployed = d / compose.OVERRIDE_FILE
        if not deployed.is_file():       # adoption: the operator's file alone
            deployed = Path(tmp) / "none.yml"
            deployed.write_text("services: {}\n")
        before = model(settings, base=before_base, override=deployed)
        after = model(settings, override=_candidate(Path(tmp), wanted))
    changed = {name for name, block in after.get("services", {}).items()
               if before.get("services", {}).get(name) != block}
    owned = {name: set(env) for name, env in environments(wanted).items()}
    return diff(before, after, owned, settings.api_key), changed, after


def diff(before: dict, after: dict, owned: dict[str, set[str]], key: str = "") -> str:
    """For each service whose merged definition changes: the variables the toolkit sets, before
    -> after (a key's value never: only whether it differs); of everything else in the service
    (theirs: environment, command, labels, build args...) only the names of what changes, never a
    value. Then the same for the rest of the model (volumes, networks, configs)."""
    parts = []
    old_services, new_services = before.get("services") or {}, after.get("services") or {}
    for name in sorted(set(old_services) | set(new_services)):
        a, b = old_services.get(name), new_services.get(name)
        if a == b:
            continue
        if a is None or b is None:  # the whole block is their file's: name the move, not every line
            parts.append(f"services.{name}: {'joins' if a is None else 'leaves'} the merged model (as declared in "
                         "your file)\n")
            continue
        lines = []
        env_a, env_b = _env(a), _env(b)
        for var in sorted(owned.get(name, set()) & (set(env_a) | set(env_b))):
            old, new = env_a.get(var), env_b.get(var)
            if old == new:
                continue
            if _SECRET_NAME.search(var):
                lines.append(f"  {var}: {'set' if old else '(none)'} -> {'set' if new else '(none)'}"
                             + (" (a different value, not shown)" if old and new else ""))
            else:
                lines.append(f"  {var}: {_shown(old)} -> {_shown(new)}")
        theirs = [f"environment {var}" for var in sorted(set(env_a) | set(env_b))
                  if var not in owned.get(name, set()) and env_a.get(var) != env_b.get(var)]
        theirs += [field for field in sorted(set(a) | set(b)) if field != "environment" and a.get(field) != b.get(field)]
        if theirs:
            lines.append(f"  changed, values not shown: {', '.join(theirs)}")
        parts.append(f"services.{name}:\n" + "".join(line + "\n" for line in lines))
    rest = [field for field in sorted((set(before) | set(after)) - {"services"}) if before.get(field) != after.get(field)]
    if rest:
        parts.append(f"the rest of the model: changed, values not shown: {', '.join(rest)}\n")
    return redact("".join(parts), key)


def _env(block: dict) -> dict:
    env = block.get("environment") or {}
    return env if isinstance(env, dict) else {}


def _shown(value) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False)


def _candidate(tmp: Path, wanted: dict[str, str]) -> Path:
    """The stage's override written aside, its env file pointing at the stage's llm.env beside
    it (a relative one would resolve to the deployed llm.env in the project directory)."""
    env_path = tmp / envfile.ENV_FILE
    env_path.write_text(wanted[envfile.ENV_FILE])
    env_path.chmod(0o600)
    text = wanted[compose.OVERRIDE_FILE].replace(f"env_file: [{envfile.ENV_FILE}]", f"env_file: [{json.dumps(str(env_path))}]")
    path = tmp / compose.OVERRIDE_FILE
    path.write_text(text)
    return path


def record_applied_base(settings: Settings) -> str | None:
    """Keep the base file as applied (the next plan diffs an operator's change against it); the
    digest the state records for it (None: no base file)."""
    text = read_text(settings.deploy_dir / compose.BASE_FILE)
    if text is None:
        return None
    (settings.deploy_dir / APPLIED_BASE).parent.mkdir(mode=0o700, exist_ok=True)
    atomic_write(settings.deploy_dir / APPLIED_BASE, text, 0o600)
    return base_digest(text)
