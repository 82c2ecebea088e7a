"""How a health report is shown: a table for people, JSON, a monitoring-plugin line, and a
node_exporter textfile. Pure: each returns text; writing the textfile is atomic."""
from __future__ import annotations

import json
import time
import unicodedata
from pathlib import Path

from checks.model import Status
from core.files import atomic_write

SERVICE = "XIAOZHI_LLM"
PERF = {"local.generate": ("local_first_token", "local"), "api.generate": ("api_first_token", "api")}


def table(report) -> str:
    """The seed's status table: expected against actual, marked ✅ ⚠️ ❌ (❔ when unknown)."""
    rows = [("", "check", "expected", "actual")]
    rows += [(r.status.mark, r.name, r.expected, r.actual) for r in report.results]
    name_w = max(width(row[1]) for row in rows)
    exp_w = max(width(row[2]) for row in rows)
    lines = [f"stage {report.stage.number} ({report.stage.name}, {report.stage.weights}): "
             f"{report.status.mark} {report.status.name} in {report.seconds:.2f} s"]
    for mark, name, expected, actual in rows:
        lines.append(f"{pad(mark, 2)} {pad(name, name_w)}  {pad(expected, exp_w)}  {actual}".rstrip())
    return "\n".join(lines)


def width(text: str) -> int:
    """Columns a terminal gives the text: a CJK character (the server's 初始化组件) or an emoji
    (✅, ⚠️ with its presentation selector) takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 if c == "\ufe0f"
               else 0 if unicodedata.combining(c) else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def as_json(report) -> str:
    return json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(report.started)),
                       "stage": report.stage.number, "status": report.status.name,
                       "exit_code": int(report.status), "seconds": round(report.seconds, 3),
                       "checks": [r.as_dict() for r in report.results]}, ensure_ascii=False, indent=2)


def nagios(report, thresholds) -> str:
    bad = [r for r in report.results if r.status is not Status.OK]
    text = ("; ".join(f"{r.name} {r.status.name}: {r.actual}" for r in bad)
            if bad else f"{len(report.results)} checks OK at stage {report.stage.number}")
    perf = []
    for r in report.results:
        if r.name in PERF and "first_token_seconds" in r.metrics:
            label, kind = PERF[r.name]
            warn = getattr(thresholds, f"{kind}_warn_ms") / 1000
            crit = getattr(thresholds, f"{kind}_crit_ms") / 1000
            perf.append(f"'{label}'={r.metrics['first_token_seconds']:.3f}s;{warn:g};{crit:g};0;")
    perf.append(f"'duration'={report.seconds:.3f}s;;;0;")
    return f"{SERVICE} {report.status.name}: {text.replace('|', '/')} | {' '.join(perf)}"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def prometheus(report) -> str:
    lines = ["# HELP probe_success Whether the check passed (1) or not (0).", "# TYPE probe_success gauge"]
    lines += [f'probe_success{{check="{_label(r.name)}"}} {int(r.status is Status.OK)}' for r in report.results]
    lines += ["# HELP probe_duration_seconds How long the check's probe took.",
              "# TYPE probe_duration_seconds gauge"]
    lines += [f'probe_duration_seconds{{check="{_label(r.name)}"}} {r.seconds:.6f}' for r in report.results]
    lines += ["# HELP xiaozhi_check_status Monitoring-plugin code of the check: 0 OK .. 3 UNKNOWN.",
              "# TYPE xiaozhi_check_status gauge"]
    lines += [f'xiaozhi_check_status{{check="{_label(r.name)}"}} {int(r.status)}' for r in report.results]
    tokens = [(PERF[r.name][1], r.metrics["first_token_seconds"]) for r in report.results
              if r.name in PERF and "first_token_seconds" in r.metrics]
    if tokens:
        lines += ["# HELP xiaozhi_first_token_seconds First-token latency of a one-token request.",
                  "# TYPE xiaozhi_first_token_seconds gauge"]
        lines += [f'xiaozhi_first_token_seconds{{target="{t}"}} {s:.6f}' for t, s in tokens]
    lines += ["# HELP xiaozhi_health_status Worst status of the run (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).",
              "# TYPE xiaozhi_health_status gauge", f"xiaozhi_health_status {int(report.status)}",
              "# TYPE xiaozhi_health_stage gauge", f"xiaozhi_health_stage {report.stage.number}",
              "# TYPE xiaozhi_health_last_run_timestamp_seconds gauge",
              f"xiaozhi_health_last_run_timestamp_seconds {report.started:.0f}"]
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, text: str) -> None:
    """node_exporter's textfile convention: a temp file beside it, renamed onto it (mkstemp: an
    unpredictable name, created exclusively; a link planted at the target is refused)."""
    atomic_write(Path(path), text, 0o644)
