"""Health history: one JSONL record a run, rotated by size; the phase gates read it back."""
from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

from checks.model import Status
from core.files import append_json_line, read_json_lines
import json


def record(report) -> dict:
    return {"time": round(report.started, 3), "stage": report.stage.number, "status": report.status.name,
            "seconds": round(report.seconds, 3),
            "checks": {r.name: r.status.name for r in report.results},
            "first_token_seconds": {r.name: round(r.metrics["first_token_seconds"], 4)
                                    for r in report.results if "first_token_seconds" in r.metrics}}


def append(path: Path, entry: dict, max_bytes: int, keep: int) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size >= max_bytes:
        rotate(path, keep)
    append_json_line(path, entry)


def rotate(path: Path, keep: int) -> None:
    for n in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


def read(path: Path, keep: int = 3) -> list[dict]:
    """Records oldest first, across the rotated files; a torn last line is skipped."""
    path = Path(path)
    files = [path.with_name(f"{path.name}.{n}") for n in range(keep, 0, -1)] + [path]
    return [record for file in files for record in read_json_lines(file)]


def last(path: Path) -> dict | None:
    """The newest whole record (read from the end of the current file: the history may be large)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(fh.tell() - 65536, 0))
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "status" in record:
            return record
    return None


def since(records: list[dict], start: float) -> list[dict]:
    return [r for r in records if r.get("time", 0) >= start]


def summary(records: list[dict], last: int = 20) -> str:
    if not records:
        return "no health history yet: run `invoke health`"
    counts = Counter(r["status"] for r in records)
    lines = [f"{len(records)} runs from {_when(records[0]['time'])} to {_when(records[-1]['time'])}: "
             + ", ".join(f"{counts[s.name]} {s.name}" for s in Status if counts[s.name])]
    crit = [r for r in records if r["status"] == "CRITICAL"]
    if crit:
        failing = sorted({n for n, s in crit[-1]["checks"].items() if s == "CRITICAL"})
        lines.append(f"last CRITICAL at {_when(crit[-1]['time'])}: {', '.join(failing)}")
    lines.append(f"last {min(last, len(records))} runs:")
    for r in records[-last:]:
        tokens = " ".join(f"{k.split('.')[0]}={v * 1000:.0f}ms" for k, v in r.get("first_token_seconds", {}).items())
        lines.append(f"  {_when(r['time'])}  stage {r['stage']}  {r['status']:<8} {tokens}")
    return "\n".join(lines)


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
