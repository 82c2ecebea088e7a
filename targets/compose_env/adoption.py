"""Adoption is a check, never a rewrite: the operator's docker-compose.yml must declare the
services the stages need (under the names config maps) and must not set what the stage's files
own; what else it holds is listed and left alone. Pure: reads the World a plan observed."""
from __future__ import annotations

import yaml

from adapters import compose
from compose_stack.adoption import Adoption, folder_problems
from core import composefile, envfile
from core.config import Settings
from core.services import LOCAL_LLM_SERVICE, WEIGHTS_SERVICE

ENV_FILE = envfile.ENV_FILE


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
