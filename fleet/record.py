"""The fleet rollout's own record (issue 25): each run, and each host's outcome in it, kept in one
JSON file (written whole, atomically, 0600). A rerun plans from what the hosts say of themselves
(their stage); the record is what happened, for `fleet.status` and for the operator."""
from __future__ import annotations

import json
import time
from pathlib import Path

from core import state
from core.errors import ConfigError
from core.files import atomic_write


def locked(path: Path):
    """Held for a whole rollout: a second fleet run from this machine on the same record (two
    shells, cron and a person) is refused at once, naming the holder's pid, rather than moving
    the same hosts and interleaving what it records."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return state.lock_file(Path(f"{path}.lock"))


def load(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {"runs": []}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the fleet record cannot be read: {exc}", where=str(path),
                          hint="move it aside (the hosts keep their own state; a rerun plans from them)") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ConfigError("the fleet record is not one of this toolkit's", where=str(path),
                          hint="move it aside (the hosts keep their own state; a rerun plans from them)")
    return data


def start(path: Path, stage: int, command: str, batches: list[list[str]]) -> dict:
    data = load(path)
    run = {"started": time.time(), "command": command, "stage": stage, "batches": batches, "hosts": {}, "result": "running"}
    data["runs"].append(run)
    save(path, data)
    return data


def host(path: Path, data: dict, name: str, result: str, **fields) -> None:
    data["runs"][-1]["hosts"][name] = {"result": result, "at": time.time(), **fields}
    save(path, data)


def finish(path: Path, data: dict, result: str) -> None:
    data["runs"][-1].update(result=result, finished=time.time())
    save(path, data)


def last_outcomes(data: dict) -> dict[str, dict]:
    """Each host's latest outcome over every run, with the run's stage."""
    seen = {}
    for run in data.get("runs", []):
        hosts = run.get("hosts") if isinstance(run, dict) else None
        for name, outcome in (hosts.items() if isinstance(hosts, dict) else ()):
            if isinstance(outcome, dict):
                seen[name] = {**outcome, "stage": run.get("stage")}
    return seen


def save(path: Path, data: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(path), json.dumps(data, indent=1, ensure_ascii=False) + "\n", 0o600)
