"""The effect of a stage on the merged model: `docker compose config` of the operator's file with
the deployed override, and with the stage's, normalised by Compose itself, key redacted. This is
what the operator reads to see which service gets which value; the services whose merged
definition changes are what Compose recreates when their own file changed under the stage."""
from __future__ import annotations

import difflib
import json
import re
import tempfile
from pathlib import Path

import yaml

from adapters import compose
from deploy.plan import base_digest
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


def compare(settings: Settings, wanted: dict[str, str], base_changed: bool) -> tuple[str, set[str]]:
    """(the merged model's diff, deployed -> this stage; the services in the new model whose
    definition changes). When the base changed since it was last applied, "before" is the base
    as applied, so the diff shows the effect of their change too."""
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
    return diff(before, after, settings.api_key), changed


def diff(before: dict, before_or_after: dict, key: str) -> str:
    """One unified diff per service whose merged definition changes (then one for the rest of
    the model: volumes, networks), each headed by the service's name, secrets masked."""
    old, new = (yaml.safe_load(text) or {} for text in _masked(before, before_or_after, key))
    parts = []
    names = sorted(set(old.get("services") or {}) | set(new.get("services") or {}))
    sections = [(f"services.{n}", (old.get("services") or {}).get(n), (new.get("services") or {}).get(n))
                for n in names]
    sections.append(("the rest of the model", {k: v for k, v in old.items() if k != "services"},
                     {k: v for k, v in new.items() if k != "services"}))
    for title, a, b in sections:
        if a == b:
            continue
        if a is None or b is None:  # the whole block is their file's: name the move, not every line
            parts.append(f"{title}: {'joins' if a is None else 'leaves'} the merged model (as declared in your file)\n")
            continue
        dump = lambda block: [] if block is None else yaml.safe_dump(  # noqa: E731
            block, sort_keys=True, allow_unicode=True, width=120).splitlines(keepends=True)
        parts.append("".join(difflib.unified_diff(dump(a), dump(b), f"{title} (deployed)", f"{title} (this stage)",
                                                  n=2)))
    return "".join(parts)


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


def _masked(before: dict, after: dict, key: str) -> tuple[str, str]:
    """Both models as YAML with every secret-looking variable's value masked (the deployed side
    may hold a key this run does not know), saying when it differs between the two."""
    def mask(model: dict, other: dict) -> dict:
        model = json.loads(json.dumps(model))
        for name, block in (model.get("services") or {}).items():
            theirs = ((other.get("services") or {}).get(name) or {}).get("environment") or {}
            env = block.get("environment") or {}
            for var, value in env.items():
                if _SECRET_NAME.search(var) and value:
                    env[var] = "<redacted: differs>" if var in theirs and theirs[var] != value else "<redacted>"
        return model
    dump = lambda m: redact(yaml.safe_dump(m, sort_keys=True, allow_unicode=True, width=120), key)  # noqa: E731
    return dump(mask(before, after)), dump(mask(after, before))


def record_applied_base(settings: Settings) -> str | None:
    """Keep the base file as applied (the next plan diffs an operator's change against it); the
    digest the state records for it (None: no base file)."""
    text = read_text(settings.deploy_dir / compose.BASE_FILE)
    if text is None:
        return None
    (settings.deploy_dir / APPLIED_BASE).parent.mkdir(mode=0o700, exist_ok=True)
    atomic_write(settings.deploy_dir / APPLIED_BASE, text, 0o600)
    return base_digest(text)
