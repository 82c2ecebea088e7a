"""Adoption is a check, never a rewrite: the operator's docker-compose.yml must declare the
services the stages need (under the names config maps) and must not set what the stage's files
own; what else it holds is listed and left alone. Pure: reads the World a plan observed."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from adapters import compose
from core import composefile, envfile
from core.config import Settings
from core.services import LOCAL_LLM_SERVICE, WEIGHTS_SERVICE

DOTENV = compose.DOTENV
COMPOSE_FILE = compose.COMPOSE_FILE_VARIABLE
ENV_FILE = envfile.ENV_FILE


@dataclass
class Adoption:
    """The operator's files as the stages need them: what is missing (nothing can be applied
    until it is fixed), and what of theirs the migration leaves alone."""
    problems: list[str]
    theirs: list[str]                     # their services the migration does not touch
    declared: set[str]                    # every service of base + override (containers of others are orphans)



def folder_problems(deploy_dir: Path, dotenv: str | None) -> list[str]:
    """What in the folder stops COMPOSE_FILE in its .env from naming the two files (any target)."""
    problems = []
    listed = envfile.parse(dotenv or "").get(COMPOSE_FILE)
    ours = set(compose.compose_file_value(deploy_dir).split(":")) | set(compose.FILES)
    if listed and set(listed.split(":")) - ours:
        problems.append(f"COMPOSE_FILE in {Path(deploy_dir) / DOTENV} names {listed}: more compose files than "
                        f"{compose.BASE_FILE} are not supported yet (merge them into it, or remove that line)")
    if ":" in os.path.abspath(deploy_dir):
        problems.append(f"{deploy_dir} has a ':' in its path, which COMPOSE_FILE cannot hold: move it")
    return problems


def check(settings: Settings, world, wanted: dict[str, str]) -> Adoption:
    """Adoption is a check, never a rewrite: the operator's file must declare the services the
    stages need, under the names config maps, and must not set what the stage's files own."""
    where = settings.deploy_dir / compose.BASE_FILE
    if world.base is None:
        return Adoption([f"{where} does not exist: the stages add their override to your own compose file "
                         "and never write one (point migrate.deploy_dir at the folder that holds it)"], [], set())
    try:
        theirs = composefile.services(world.base)
        composefile.services(wanted.get(compose.OVERRIDE_FILE))
    except yaml.YAMLError as exc:
        return Adoption([f"{where} is not a Compose file the toolkit can read: {exc}"], [], set())
    problems = []
    names = settings.compose_names
    missing = [f"{name} (the {role} role{'' if name == role else ', mapped in config'})"
               for role, name in names.items() if name not in theirs]
    if missing:
        problems.append(f"{where} does not declare {', '.join(missing)}: name your service in config "
                        f"(migrate.services.ROLE.compose_service, migrate.local_llm.compose_service)")
    local = theirs.get(names[LOCAL_LLM_SERVICE])
    if local is not None:
        container = local.get("container_name") or f"{settings.project}-{names[LOCAL_LLM_SERVICE]}-1"
        if container != settings.local_llm.container:
            problems.append(f"the local LLM's container is {container} in {where}, but migrate.local_llm.container "
                            f"says {settings.local_llm.container}: make them agree")
    owned = set(envfile.parse(wanted.get(ENV_FILE) or ""))
    clash = sorted(owned & set(composefile.environment(theirs.get(names[WEIGHTS_SERVICE]) or {})))
    if clash:
        problems.append(f"{names[WEIGHTS_SERVICE]}'s `environment` in {where} sets {', '.join(clash)}, which the stage's "
                        f"{ENV_FILE} owns (Compose lets `environment` win over an env file): remove them there")
    problems += folder_problems(settings.deploy_dir, world.dotenv)
    return Adoption(problems, sorted(set(theirs) - set(names.values())),
                    composefile.declared(world.base, wanted.get(compose.OVERRIDE_FILE)))


def lines(plan) -> list[str]:
    """What the plan says about the operator's own files, orphans included (status shows them too)."""
    lines = [f"  NOT ADOPTABLE: {problem}" for problem in plan.adoption.problems]
    if plan.adoption.theirs:
        lines.append(f"  {compose.BASE_FILE}: yours, never written; left alone: {', '.join(plan.adoption.theirs)}")
    if plan.base_changed:
        lines.append(f"  {compose.BASE_FILE} changed since it was last applied ({plan.base_changed[0]} -> "
                     f"{plan.base_changed[1]}): planned against it as it is now")
    if not plan.compose_file_ok and plan.dotenv_link:
        lines.append(f"  {DOTENV} is a symlink, and nothing is written through one: add the line COMPOSE_FILE="
                     f"{plan.compose_file} to the file it points at, so that your own `docker compose` merges both files")
    elif not plan.compose_file_ok:
        lines.append(f"  {DOTENV}: COMPOSE_FILE will name {compose.BASE_FILE} and {compose.OVERRIDE_FILE} (only that "
                     "line is written), so that your own `docker compose` merges the same two files")
    for orphan in plan.orphans:
        lines.append(f"  ORPHAN: {orphan}: no service of the merged model declares it; left running; remove "
                     "it yourself (`docker rm -f NAME`) or declare it again")
    return lines
