"""Scheduling `invoke health`: a crontab entry (or a systemd service and timer) that runs it
with --prom and history, under flock so that runs never pile up, and under `timeout`."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from core.errors import ConfigError, MigrationError

MARK = "# xiaozhi-migrate health (managed by `invoke cron.install`; remove with `invoke cron.remove`)"


@dataclass(frozen=True)
class Job:
    workdir: str
    invoke: str
    config_file: str | None
    prom: str
    every: str
    lock: str             # in the deploy directory (root-only): in /run/lock anyone could hold it
    timeout_s: int = 60

    def __post_init__(self):
        for name in ("workdir", "invoke", "config_file", "prom", "lock"):
            value = getattr(self, name) or ""
            if any(not ch.isprintable() for ch in value):
                raise ConfigError(f"the {name} path holds a control character", where=repr(value),
                                  hint="a newline would add lines to the crontab: rename the path")

    def argv(self) -> list[str]:
        config = ["-f", self.config_file] if self.config_file else []
        return ["flock", "-n", self.lock, "timeout", str(self.timeout_s), self.invoke, *config, "health",
                "--prom", self.prom, "--nagios"]

    def command(self) -> str:
        inner = f"cd {shlex.quote(self.workdir)} && " + " ".join(shlex.quote(a) for a in self.argv())
        # In a crontab line an unescaped % ends the command (the rest becomes its stdin).
        return (inner + " >/dev/null 2>&1").replace("%", "\\%")


def schedule(every: str) -> str:
    """'5m' -> '*/5 * * * *', '1h' -> '0 */1 * * *'. Cron cannot go below one minute."""
    match = re.fullmatch(r"(\d+)([mh])", every.strip())
    if not match:
        raise ConfigError(f"invalid interval {every!r}", where="--every", hint="write it as Nm (1-59) or Nh (1-23)")
    n, unit = int(match.group(1)), match.group(2)
    if unit == "m" and 1 <= n <= 59:
        return "* * * * *" if n == 1 else f"*/{n} * * * *"
    if unit == "h" and 1 <= n <= 23:
        return f"0 */{n} * * *"
    raise ConfigError(f"interval {every!r} is out of range", where="--every", hint="Nm with N 1-59, or Nh with N 1-23")


def entry(job: Job) -> str:
    return f"{MARK}\n{schedule(job.every)} {job.command()}\n"


def without_ours(crontab: str) -> str:
    """The crontab minus our entry (the mark line and the line after it)."""
    lines, out, skip = crontab.splitlines(), [], False
    for line in lines:
        if skip:
            skip = False
            continue
        if line.strip() == MARK:
            skip = True
            continue
        out.append(line)
    text = "\n".join(out)
    return text + "\n" if text else ""


def merged(crontab: str, job: Job) -> str:
    return without_ours(crontab) + entry(job)


def systemd_quote(arg: str) -> str:
    """One ExecStart argument: double-quoted with C escapes; % and $ doubled (specifiers, variables)."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_units(job: Job) -> str:
    minutes = int(job.every[:-1]) * (60 if job.every.endswith("h") else 1)
    schedule(job.every)  # validates
    argv = ["/usr/bin/" + job.argv()[0], *job.argv()[1:3], "/usr/bin/timeout", *job.argv()[4:]]
    return (f"# /etc/systemd/system/xiaozhi-health.service\n[Unit]\nDescription=xiaozhi LLM migration health check\n\n"
            f"[Service]\nType=oneshot\nWorkingDirectory={job.workdir.replace('%', '%%')}\n"
            f"ExecStart={' '.join(systemd_quote(a) for a in argv)}\n"
            f"SuccessExitStatus=1 2 3\n\n"
            f"# /etc/systemd/system/xiaozhi-health.timer\n[Unit]\nDescription=Run the xiaozhi health check every {job.every}\n\n"
            f"[Timer]\nOnBootSec=1min\nOnUnitActiveSec={minutes}min\nAccuracySec=10s\n\n[Install]\nWantedBy=timers.target\n")


def install(job: Job, *, dry_run: bool = False, systemd: bool = False, mkdir: bool = False, yes: bool = False,
            confirm=None, out=print) -> None:
    schedule(job.every)  # refuse a bad interval before reading anything
    prom_dir = os.path.dirname(os.path.abspath(job.prom))
    missing = not os.path.isdir(prom_dir)
    if missing and not mkdir:
        # Every run would then end in "metrics file not written": say so now, not at 3 a.m.
        if dry_run or systemd:
            out(f"warning: the metrics directory {prom_dir} does not exist: create it, or pass --mkdir or --prom")
        else:
            raise MigrationError("the metrics directory does not exist", where=prom_dir,
                                 hint="pass --mkdir to create it (node_exporter's textfile directory), "
                                      "or --prom FILE elsewhere")
    if systemd:
        out(systemd_units(job))
        return
    new = merged(read_crontab(), job)
    if dry_run:
        out("dry run: the crontab would become:\n" + new)
        return
    out(f"the crontab's health entry will be:\n{entry(job)}" + (f"\nand {prom_dir} created" if missing else ""))
    if not yes and not (confirm and confirm("write it into the crontab?")):
        raise MigrationError("not confirmed: nothing was changed", hint="answer y, or pass --yes")
    if missing and mkdir:
        os.makedirs(prom_dir, mode=0o755, exist_ok=True)
        out(f"created {prom_dir}")
    write_crontab(new)
    out(f"installed: {entry(job).splitlines()[1]}")


def remove(*, dry_run: bool = False, yes: bool = False, confirm=None, out=print) -> None:
    current = read_crontab()
    new = without_ours(current)
    if new == current:
        out("no health entry in the crontab: nothing to remove")
    elif dry_run:
        out("dry run: the crontab would become:\n" + new)
    else:
        gone = [line for line in current.splitlines() if line not in new.splitlines()]
        out("will remove from the crontab:\n" + "\n".join(gone))
        if not yes and not (confirm and confirm("remove it?")):
            raise MigrationError("not confirmed: nothing was changed", hint="answer y, or pass --yes")
        write_crontab(new)
        out("removed the health entry from the crontab")


# --- the one place that touches the user's crontab ---------------------------------------------
def _crontab_bin() -> str:
    path = shutil.which("crontab")
    if not path:
        raise MigrationError("crontab is not installed", where="PATH",
                             hint="apt-get install cron, or use --systemd and install the printed units")
    return path


def read_crontab() -> str:
    done = subprocess.run([_crontab_bin(), "-l"], capture_output=True, text=True)
    if done.returncode != 0:
        if "no crontab" in done.stderr:
            return ""
        raise MigrationError(f"crontab -l exited {done.returncode}", where="crontab", detail=done.stderr.strip())
    return done.stdout


def write_crontab(text: str) -> None:
    done = subprocess.run([_crontab_bin(), "-"], input=text, capture_output=True, text=True)
    if done.returncode != 0:
        raise MigrationError(f"crontab - exited {done.returncode}", where="crontab", detail=done.stderr.strip(),
                             hint="check the entry with --dry-run")
