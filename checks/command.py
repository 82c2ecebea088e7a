"""`invoke health`: resolve the stage, run the checks, record history, format the report."""
from __future__ import annotations

import sys
from pathlib import Path

from checks.model import Status, worst
from checks.run import Report
from core.config import Settings
from core.errors import ConfigError, MigrationError
from core.secrets import redact
from core import state
from checks import history, report as fmt


def resolve_stage(settings: Settings, stage: int | None) -> int:
    """--stage wins; then the state file that `invoke phase` writes; then stage 0."""
    if stage is not None:
        return int(stage)
    try:
        found = state.current_stage(settings.deploy_dir)
    except (MigrationError, OSError) as exc:
        # The checks still run (cron must report), but nobody should have to guess why the
        # stage they see is not the deployed one.
        print(f"warning: judging against stage {min(settings.stages)}: "
              f"{exc.message if isinstance(exc, MigrationError) else exc}", file=sys.stderr)
        found = None
    return found if found is not None else min(settings.stages)


def health(settings: Settings, *, stage: int | None = None, output: str = "table", prom: str | None = None,
           light: bool = False, timeout: float | None = None, record: bool = True, probes,
           then=None) -> tuple[str, int]:
    """``probes(stage, **options)`` starts the target's own probes (orchestration passes the
    target's). ``then(report, previous record, this record)`` runs once the verdict is recorded
    (the alerts); it cannot change the exit code."""
    if output not in ("table", "json", "nagios"):
        raise ConfigError(f"unknown output {output!r}", where="--output", hint="table, json or nagios")
    if timeout is not None and not 0.1 <= float(timeout) <= 600:
        raise ConfigError(f"invalid timeout {timeout!r}", where="--timeout", hint="seconds, 0.1 to 600")
    target = settings.stage(resolve_stage(settings, stage))
    wait = probes(target, light=light, timeout=float(timeout) if timeout else None, from_process_start=True)
    # Imported while the probes wait on the network: this is on the critical path otherwise.
    result: Report = wait()
    previous = history.last(settings.history_path) if then else None
    entry = history.record(result)
    if record:
        _record(settings, entry)
    if then:
        then(result, previous, entry)
    code = result.status
    if prom:
        try:
            fmt.write_textfile(Path(prom), redact(fmt.prometheus(result), settings.api_key))
        except (OSError, MigrationError) as exc:
            # Its own line, and at least a WARNING: but never lower than what the checks found.
            print(f"warning: metrics file {prom} not written: {_why(exc)}; create its directory or pass "
                  f"another --prom", file=sys.stderr)
            code = worst([code, Status.WARNING])
    text = {"table": lambda: fmt.table(result), "json": lambda: fmt.as_json(result),
            "nagios": lambda: fmt.nagios(result, settings.health)}[output]()
    return redact(text, settings.api_key), int(code)


def _record(settings: Settings, entry: dict) -> None:
    try:
        history.append(settings.history_path, entry, settings.health.history_max_bytes,
                       settings.health.history_keep)
    except (OSError, MigrationError) as exc:  # a check must still report when its history cannot be kept
        print(f"warning: health history not written to {settings.history_path}: {_why(exc)}", file=sys.stderr)


def _why(exc: OSError | MigrationError) -> str:
    return exc.message if isinstance(exc, MigrationError) else str(exc.strerror or exc)


def history_summary(settings: Settings) -> str:
    return history.summary(history.read(settings.history_path, settings.health.history_keep))
