"""Alerts for the commands (migrate.alerts): what each event says and when it is sent. `invoke
health` sends after its verdict is recorded, only on a change against the previous health record
(or a reminder, or a retry of a message that never arrived), within what is left of its own time
bound; `phase` and `decommission` send on their outcome. Sending never changes an exit code: a
failure is said on stderr (once per reminder interval for a channel that keeps failing) and kept
in ``alerts.jsonl`` beside the health history, rotated as it is."""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from core.config import Settings
from checks import history
from core.errors import ConfigError

LOG = "alerts.jsonl"
API_CHECKS = ("api.auth", "api.generate")


def log_path(settings: Settings) -> Path:
    return settings.deploy_dir / LOG


def next_steps(settings: Settings, stage: int | None, failing: list[str], recovered: bool = False) -> list:
    """The next commands an operator should run, most useful first, each with a note (a phrase of
    alerts.message) or none."""
    if recovered:
        return []
    cutover = max(settings.stages)
    if stage == cutover and any(name in API_CHECKS for name in failing):
        # The outage plan: every chat on the local model (its quarantined copy put back first).
        from decommission.quarantine import newest_copy
        copy = newest_copy(settings)
        model = settings.local_llm.model
        if copy is not None:
            hours = f"{(time.time() - copy[1]) / 3600:.1f}"
            return [("invoke outage", ("copy", {"model": model, "hours": hours, "path": str(copy[0])})), "invoke health"]
        return [("invoke health", ("no_copy", {})), ("invoke outage", ("after_pull", {"model": model}))]
    if "drift" in failing:
        return ["invoke status", f"invoke phase --stage {stage}"]
    return ["invoke health", "invoke status"]


def _event(settings, source, status, stage, changed, failing, recovered=False):
    from alerts.message import Event
    return Event(source, status, socket.gethostname(), stage, changed, failing,
                 next_steps(settings, stage, [name for name, *_ in failing], recovered))


def _record(settings: Settings, delivery, event, reason: str, state, report_failure: bool) -> None:
    try:
        history.append(log_path(settings), {
            "time": round(time.time(), 3), "source": event.source, "channel": delivery.channel.number,
            "kind": delivery.channel.kind, "status": event.status, "state": state, "reason": reason,
            "ok": delivery.ok, "answer": delivery.answer, "reported": not delivery.ok and report_failure},
            settings.health.history_max_bytes, settings.health.history_keep)
    except OSError as exc:
        print(f"warning: the alert log {log_path(settings)} was not written: {exc.strerror}", file=sys.stderr)


def after_health(settings: Settings, report, previous: dict | None, record: dict, budget: float) -> None:
    """The health command's alerts, within ``budget`` seconds."""
    from alerts import decide, send
    log = history.read(log_path(settings), settings.health.history_keep)
    now, due = time.time(), {}
    for channel in settings.alerts.channels:
        mine = [e for e in log if e.get("channel") == channel.number and e.get("source") == "health"]
        d = decide.for_channel(previous, record, mine, now, settings.alerts.remind_after_s, channel.min_status)
        if d.reason:
            due[channel.number] = (channel, d)
    if not due:
        return
    before, after = decide.state(previous), decide.state(record)
    recovered = after[0] == "OK"
    names = ", ".join(after[1])
    changed = (("status_failing" if after[1] else "status", {"before": before[0], "after": after[0], "names": names})
               if before != after else ("still", {"after": after[0], "names": names}))
    failing = [(r.name, r.status.name, r.actual) for r in report.results if r.status.name != "OK"]
    event = _event(settings, "health", after[0], record.get("stage"), changed, failing, recovered)
    if budget < 0.2:
        deliveries = [send.Delivery(c, False, "not sent: the run's time bound was spent on the checks")
                      for c, _ in due.values()]
    else:
        deliveries = send.send([c for c, _ in due.values()], event, budget)
    for delivery in deliveries:
        reason = due[delivery.channel.number][1]
        _record(settings, delivery, event, reason.reason, after, reason.report_failure)
        if not delivery.ok and reason.report_failure:
            print(f"warning: alert to {delivery.channel.name} not delivered: {delivery.answer} (retried on the "
                  f"next run; said again after {settings.alerts.remind_after_s / 3600:.0f} h if it keeps failing)",
                  file=sys.stderr)


def event(settings: Settings, source: str, status: str, stage: int | None, changed: tuple[str, dict],
          failing: list[tuple[str, str, str]] = ()) -> list:
    """A phase or decommission outcome, to every channel (min_status is for health)."""
    if not settings.alerts.channels:
        return []
    from alerts import send
    ev = _event(settings, source, status, stage, changed, list(failing), recovered=status == "OK")
    deliveries = send.send(settings.alerts.channels, ev, settings.alerts.timeout)
    for delivery in deliveries:
        _record(settings, delivery, ev, source, [status, []], True)
        if not delivery.ok:
            print(f"warning: alert to {delivery.channel.name} not delivered: {delivery.answer}", file=sys.stderr)
    return deliveries


def test(settings: Settings, number: int | None, out=print) -> int:
    """`invoke alerts.test`: a test message to each channel (or one); the platform's answer printed."""
    from alerts import send
    channels = [c for c in settings.alerts.channels if number is None or c.number == number]
    if not channels:
        raise ConfigError("no such channel" if settings.alerts.channels else "no alert channels configured",
                          where="--channel" if settings.alerts.channels else "migrate.alerts.channels",
                          hint=("channels: " + ", ".join(c.name for c in settings.alerts.channels))
                          if settings.alerts.channels else "add one, e.g. {kind: dingtalk, url_file: /etc/xiaozhi/dingtalk.url}")
    ev = _event(settings, "test", "OK", None, "", [], recovered=True)   # the words in the channel's language
    failed = 0
    for delivery in send.send(channels, ev, settings.alerts.timeout):
        out(f"{delivery.channel.name}: {'delivered' if delivery.ok else 'FAILED'}: {delivery.answer}")
        failed += not delivery.ok
    return failed
