"""`invoke health` for whichever target is configured: the target's own probes, then the shared
judgement, history, formats and exit code (checks/command.py), then the alerts (alerting.py),
within what is left of the run's time bound. A run that is not recorded (--no-record) sends
nothing: the next recorded run compares with the last record, and would say it again."""
from __future__ import annotations

from core.config import Settings
from checks import command
from orchestration import targets
from checks.run import process_age
from orchestration import alerting

EXIT_S = 0.5


def health(settings: Settings, **options) -> tuple[str, int]:
    bound = float(options.get("timeout") or settings.health.timeout)

    def alerts(report, previous, record):
        # what is left of the run's bound, less the time to log, say and exit (cron's bound is the
        # whole process's)
        budget = min(settings.alerts.timeout, bound - process_age() - EXIT_S)
        alerting.after_health(settings, report, previous, record, budget)
    return command.health(settings, probes=targets.load(settings).health,
                          then=alerts if settings.alerts.channels and options.get("record", True) else None,
                          **options)
