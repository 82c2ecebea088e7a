"""When an alert is due (pure). The health command sends only on a change of the overall status
or of the set of checks not OK, compared with the previous health record; a recovery is a change.
A state that lasts is announced again after ``remind_after_s``. A channel that did not get the
message announcing the current state gets it again on the next run (the message is not lost), but
its failure is reported once per reminder interval, not every run."""
from __future__ import annotations

from dataclasses import dataclass

ORDER = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}


def problems(record: dict | None) -> tuple[str, ...]:
    return tuple(sorted(n for n, s in ((record or {}).get("checks") or {}).items() if s != "OK"))


def state(record: dict | None) -> list:
    """The state an alert announces: the overall status and the checks not OK."""
    return [(record or {}).get("status", "OK"), list(problems(record))]


@dataclass
class Due:
    reason: str            # "changed", "recovered", "reminder", "retry" ('' : nothing to send)
    report_failure: bool = True   # a failure to send is said (stderr, alert log) this time


def for_channel(previous: dict | None, current: dict, log: list[dict], now: float, remind_after_s: float,
                min_status: str = "WARNING") -> Due:
    """``log``: this channel's earlier health alerts, oldest first ({time, state, ok, reported})."""
    before, after = state(previous), state(current)
    worst = max(ORDER.get(before[0], 0), ORDER.get(after[0], 0))
    if worst < ORDER[min_status]:
        return Due("")                       # below this channel's threshold on both sides
    delivered = [e for e in log if e.get("ok")]
    failures = [e for e in log if not e.get("ok") and e.get("reported")]
    report = not failures or now - failures[-1]["time"] >= remind_after_s
    if before != after:
        return Due("recovered" if after[0] == "OK" else "changed", report)
    if after[0] == "OK":
        return Due("")
    if log and not log[-1].get("ok") and log[-1].get("state") == after:
        return Due("retry", report)          # the message announcing this state never arrived
    announced = [e for e in delivered if e.get("state") == after]
    if announced and now - announced[-1]["time"] >= remind_after_s:
        return Due("reminder", report)
    return Due("")
