"""When the health command sends: on a change of the status or of the checks not OK, compared with
the previous record; a reminder after the interval; a retry of a message that never arrived."""
import pytest

from alerts import decide

H = 3600


def rec(status, *failing):
    return {"status": status, "checks": {**{n: status for n in failing}, "host": "OK"}}


def run(sequence, remind=6 * H, min_status="WARNING", fails=()):
    """Feed records one by one (each an hour apart); return the reason of each run ('' : silent).
    ``fails``: the runs whose delivery fails."""
    log, previous, reasons = [], None, []
    for i, record in enumerate(sequence):
        now = i * H
        due = decide.for_channel(previous, record, log, now, remind, min_status)
        reasons.append(due.reason)
        if due.reason:
            log.append({"time": now, "state": decide.state(record), "ok": i not in fails,
                        "reported": i in fails and due.report_failure})
        previous = record
    return reasons


OK, CRIT, WARN = rec("OK"), rec("CRITICAL", "api.auth"), rec("WARNING", "host")


@pytest.mark.parametrize("sequence, expected", [
    ([OK, CRIT, CRIT, OK], ["", "changed", "", "recovered"]),                       # exactly two messages
    ([CRIT], ["changed"]),                                                         # no history: a problem is news
    ([OK, OK, OK], ["", "", ""]),
    ([OK, CRIT, rec("CRITICAL", "api.auth", "api.generate")], ["", "changed", "changed"]),   # the failing set grew
    ([OK, WARN, CRIT, WARN, OK], ["", "changed", "changed", "changed", "recovered"]),
    ([OK] + [CRIT] * 8, ["", "changed", "", "", "", "", "", "reminder", ""]),     # again after 6 h, not before
])
def test_change_detection(sequence, expected):
    assert run(sequence) == expected


def test_a_channel_for_critical_only_hears_nothing_of_warnings():
    assert run([OK, WARN, OK, CRIT, OK], min_status="CRITICAL") == ["", "", "", "changed", "recovered"]


def test_an_undelivered_message_is_retried_but_its_failure_said_once_per_interval():
    log, previous = [], OK
    said = []
    for i in range(1, 10):
        due = decide.for_channel(previous, CRIT, log, i * H, 6 * H)
        assert due.reason in ("changed", "retry")
        said.append(due.report_failure)
        log.append({"time": i * H, "state": decide.state(CRIT), "ok": False, "reported": due.report_failure})
        previous = CRIT
    assert said == [True, False, False, False, False, False, True, False, False]
