"""What every target whose stack is a Compose folder checks before it adopts that folder, and
how the plan says it: the COMPOSE_FILE line of its .env, the services of theirs left alone, the
orphans. Pure."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from adapters import compose
from core import envfile

DOTENV = compose.DOTENV
COMPOSE_FILE = compose.COMPOSE_FILE_VARIABLE


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


def lines(found: Adoption, *, compose_file: str, compose_file_ok: bool, dotenv_link: bool,
          orphans=(), base_changed: tuple[str, str] | None = None) -> list[str]:
    """What a plan says about the operator's own folder: what stops adoption, their services left
    alone, their base file changed since it was applied (as sha256 prefixes), the COMPOSE_FILE line
    of their .env, and the orphans (status shows them too)."""
    lines = [f"  NOT ADOPTABLE: {problem}" for problem in found.problems]
    if found.theirs:
        lines.append(f"  {compose.BASE_FILE}: yours, never written; left alone: {', '.join(found.theirs)}")
    if base_changed:
        lines.append(f"  {compose.BASE_FILE} changed since it was last applied ({base_changed[0]} -> "
                     f"{base_changed[1]}): planned against it as it is now")
    if not compose_file_ok and dotenv_link:
        lines.append(f"  {DOTENV} is a symlink, and nothing is written through one: add the line COMPOSE_FILE="
                     f"{compose_file} to the file it points at, so that your own `docker compose` merges both files")
    elif not compose_file_ok:
        lines.append(f"  {DOTENV}: COMPOSE_FILE will name {compose.BASE_FILE} and {compose.OVERRIDE_FILE} (only that "
                     "line is written), so that your own `docker compose` merges the same two files")
    for orphan in orphans:
        lines.append(f"  ORPHAN: {orphan}: no service of the merged model declares it; left running; remove "
                     "it yourself (`docker rm -f NAME`) or declare it again")
    return lines
