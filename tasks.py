"""Command surface of the migration toolkit. Each task parses its flags, calls the packages,
and turns a MigrationError into a clean exit; the work lives in the packages below it
(README, "Architecture").
Imports of the heavy packages stay inside the tasks so that `invoke --list` stays fast."""
from __future__ import annotations

import atexit
import gc
import os
import sys

from invoke import Collection, Exit

from core import defaults, registry
from core.cli import MARK, converted, settings as _settings, task

# Each command ends right after its task. Freezing the heap at exit spares the collector one
# last walk over every object (~30 ms of each run, a cron `health` included); the memory goes
# back to the OS all the same, and files are closed by their own code, not by the collector.
atexit.register(gc.freeze)


def _number(value, flag: str) -> int:
    from core.errors import ConfigError
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{value!r} is not a stage number", where=flag, hint="give a whole number, e.g. --stage 2") from None


def _quiet(settings, quiet_wait):
    """The settings with --quiet-wait, when given, in place of migrate.gates.quiet_wait."""
    if quiet_wait is None:
        return settings
    import dataclasses
    from core.errors import ConfigError
    try:
        seconds = int(quiet_wait)
    except (TypeError, ValueError):
        seconds = -1
    if seconds < 0:
        raise ConfigError(f"{quiet_wait!r} is not a number of seconds", where="--quiet-wait",
                          hint="give whole seconds, e.g. --quiet-wait 120 (0: do not wait)")
    return dataclasses.replace(settings, gates=dataclasses.replace(settings.gates, quiet_wait=seconds))


@task(help={"out": "folder for the rendered stages (default: compose/)",
            "check": "only compare: exit 1 when compose/ differs from the templates"})
@converted
def render(c, out="compose", check=False):
    """Render every stage of every target into compose/ (keys redacted) for review."""
    from orchestration import review
    changed = review.write_all(out, check=check)
    for path in changed:
        print(("differs: " if check else "wrote: ") + str(path))
    if check and changed:
        raise Exit("compose/ is out of date: run `invoke render` and commit the result", code=1)
    if not changed:
        print(f"{out}/ matches the templates")


def _inventory(c, path):
    """The fleet's inventory: ``--inventory FILE``, else ``migrate.fleet`` of the config."""
    from fleet import run
    return run.load(c.config.get("migrate", {}).get("fleet"), path)


def _confirm(question: str) -> bool:
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except (EOFError, OSError, RuntimeError):  # no terminal (cron, CI), or stdin closed (<&-): never assume yes
        print(file=sys.stderr)
        return False


@task(help={"stage": "the stage to move to (see defaults.yaml migrate.stages)",
            "dry_run": "print the plan, diffs and gate results; change nothing",
            "yes": "apply without asking",
            "force": "go past failed gates, skipped stages or conversations still open (audited)",
            "quiet_wait": "seconds a server restart waits for open conversations (default: migrate.gates.quiet_wait)",
            "json": "end with one JSON line for machines (a fleet rollout reads it): stage, exit code, summary"})
@converted
def phase(c, stage=None, dry_run=False, yes=False, force=False, quiet_wait=None, json=False):
    """Move the stack to a stage: plan, gate, apply with Compose, verify, roll back."""
    from orchestration import move
    from core.errors import ConfigError
    if stage is None:  # a flag with no default would be positional, and swallow `--help`
        raise ConfigError("which stage?", where="--stage", hint="invoke phase --stage N (see `invoke phase --help`)")
    from core.config import OUTAGE
    number = _number(stage, '--stage')
    if number == OUTAGE:
        raise ConfigError("the outage stage is entered with `invoke outage`", where="--stage",
                          hint="invoke outage (it puts the local model back first when it is gone)")
    _machine_readable(json, "phase", number, lambda out: move.phase(
        _quiet(_settings(c), quiet_wait), number, dry_run=dry_run, yes=yes, force=force, confirm=_confirm, out=out))


def _machine_readable(json_line: bool, task: str, stage, work) -> None:
    """Run ``work(out)``; with ``json_line``, end with one line {"xiaozhi_migrate": {task, stage,
    exit, summary}}: the last line it printed, or the error's first line (exit code kept)."""
    if not json_line:
        work(print)
        return
    import json
    from core.errors import MigrationError
    said = []

    def out(line):
        print(line)
        said.extend(str(line).splitlines())
    try:
        work(out)
    except MigrationError as exc:
        why = next((line.strip() for line in exc.detail.splitlines() if line.strip()), "")
        print(json.dumps({MARK: {"task": task, "stage": stage, "exit": exc.exit_code,
                                 "summary": exc.what + (f" ({why})" if why else "")}}, ensure_ascii=False))
        raise
    print(json.dumps({MARK: {"task": task, "stage": stage, "exit": 0, "summary": said[-1] if said else ""}},
                     ensure_ascii=False))


@task(help={"end": "go back to the stage the outage left, once the API answers again",
            "dry_run": "print the plan; change nothing", "yes": "apply without asking"})
@converted
def outage(c, end=False, dry_run=False, yes=False):
    """Send every chat to the local model when the API fails after the cut-over (--end: undo)."""
    from orchestration import outage as plan
    (plan.end if end else plan.start)(_settings(c), dry_run=dry_run, yes=yes, confirm=_confirm)


@task(help={"to": "the stage to go back to (default: the one before the current)",
            "dry_run": "print the plan; change nothing", "yes": "apply without asking",
            "quiet_wait": "seconds a server restart waits for open conversations (default: migrate.gates.quiet_wait)",
            "json": "end with one JSON line for machines (a fleet rollout reads it): stage, exit code, summary"})
@converted
def rollback(c, to=None, dry_run=False, yes=False, quiet_wait=None, json=False):
    """Go back to an earlier stage through the same plan, apply and verify engine."""
    from orchestration import move
    number = None if to is None else _number(to, "--to")
    _machine_readable(json, "rollback", number, lambda out: move.rollback(
        _quiet(_settings(c), quiet_wait), number, dry_run=dry_run, yes=yes, confirm=_confirm, out=out))


@task(help={"json": "one JSON line for machines instead (a fleet reads it): toolkit version, target, stage, "
                    "since, pending, last health"})
@converted
def status(c, json=False):
    """Print the stage, its weights, file drift, container drift and the last audit entries."""
    from bench import cost
    from core import state
    from orchestration import targets
    if json:
        import json as json_
        from orchestration import machine
        print(json_.dumps({MARK: machine.status(_settings(c))}, ensure_ascii=False))
        return
    print("settings read from (each over the one before): "
          + " < ".join(f"{path} ({level})" for level, path in defaults.files_read(c.config))
          + (" < INVOKE_MIGRATE_* variables" if any(k.startswith("INVOKE_MIGRATE_") for k in os.environ) else ""))
    settings = _settings(c)
    print(targets.load(settings).status())
    number = state.current_stage(settings.deploy_dir)
    line = cost.projected(settings, settings.stage(number if number is not None else min(settings.stages)))
    if line:
        print(line)


@task(help={"dry_run": "print every path and byte the run would remove; change nothing",
            "yes": "do it without asking", "force": "go past failed preconditions or an unfinished drain (audited)",
            "quarantine": "move the model's files here (same filesystem) instead of deleting them",
            "purge": "also remove the model volume, when nothing but this model lives in it",
            "purge_whole_volume": "with --purge: remove the volume even with other models or files in it (lost)",
            "drain_timeout": "seconds to wait for connections to end"})
@converted
def decommission(c, dry_run=False, yes=False, force=False, quarantine=None, purge=False, purge_whole_volume=False,
                 drain_timeout=None):
    """Drain, remove the local model (Ollama-aware), stop and remove xiaozhi-local-llm."""
    from orchestration import move
    move.decommission(_settings(c), dry_run=dry_run, yes=yes, force=force, quarantine=quarantine, purge=purge,
                      purge_whole_volume=purge_whole_volume, drain_timeout=drain_timeout, confirm=_confirm)


@task(help={"quarantine": "the quarantine directory (default: migrate.decommission.quarantine_dir)",
            "verify": "also hash every blob and compare it with its digest (reads GBs: slow)",
            "yes": "restore without asking"})
@converted
def decommission_restore(c, quarantine=None, verify=False, yes=False):
    """Put the quarantined model files back and check them (then `invoke rollback --to 2`)."""
    from decommission import quarantine as q
    q.restore(_settings(c), quarantine, verify=verify, yes=yes, confirm=_confirm)


@task(help={"older_than": "age of the quarantined copies to delete: Nd or Nh (default 7d)",
            "quarantine": "the quarantine directory (default: migrate.decommission.quarantine_dir)",
            "dry_run": "list what would be deleted", "yes": "delete without asking"})
@converted
def decommission_purge(c, older_than="7d", quarantine=None, dry_run=False, yes=False):
    """Delete quarantined model copies older than a given age."""
    from decommission import quarantine as q
    q.purge(_settings(c), older_than, quarantine, dry_run=dry_run, yes=yes, confirm=_confirm)


@task(help={"keep": "leave the demo stack up afterwards (take it down with `invoke demo --down`)",
            "requests": "chats sent through the stack per stage to observe the split (default 200)",
            "down": "only take down a demo stack left by --keep",
            "target": " or ".join(registry.names()) + ": which sandbox to migrate (default: the -f config's, "
                      "else " + registry.default() + ")"})
@converted
def demo(c, keep=False, requests=200, down=False, target=None):
    """Run the whole migration on the sandbox (stages 1-3, health, decommission)."""
    from rehearsal import demo as walkthrough
    from rehearsal import sandbox_stack
    config, settings = walkthrough.settings(c.config, target)
    if down or settings.deploy_dir.exists():
        sandbox_stack.down(settings)  # the demo's own project and folder, never the user's sandbox
        if down:
            return
    lines = walkthrough.run(config, settings, keep=keep, requests=int(requests))
    print("\n== what happened\n" + "\n".join(lines))


@task(help={"target": "local, api or both (default both)",
            "concurrency": "comma-separated levels (default 1,8,20,50)",
            "requests": "streamed requests per level and target (default 40)",
            "out": "folder for the Markdown report, PNG chart and raw JSON (default reports/)",
            "chats_per_day": "project the monthly API cost at this many chats a day (cost section)"})
@converted
def bench(c, target="both", concurrency="1,8,20,50", requests=40, out="reports", chats_per_day=None):
    """Measure first token, full reply, tokens/s, errors and resources: local model vs API."""
    from bench import command
    per_day = None
    if chats_per_day is not None:
        from core.errors import ConfigError
        if not str(chats_per_day).isdigit() or int(chats_per_day) < 1:
            raise ConfigError(f"invalid --chats-per-day {chats_per_day!r}", where="--chats-per-day",
                              hint="a whole number of chats a day, at least 1")
        per_day = int(chats_per_day)
    command.bench(_settings(c), target=target, concurrency=concurrency, requests=int(requests), out_dir=out,
                  chats_per_day=per_day)


@task(help={"rebuild": "build the sandbox image even when it exists"})
@converted
def sandbox_build(c, rebuild=False):
    """Build the sandbox image and each target's own (the router's: LiteLLM, wheels pinned by hash)."""
    from rehearsal import sandbox_stack
    sandbox_stack.build(c.config, rebuild=rebuild)
    for spec in registry.specs():   # a target without a sandbox builds nothing here
        if spec.sandbox_steps:
            registry.sandbox_of(spec.name).build(sandbox_stack.sandbox_settings(c.config), rebuild=rebuild)


@task(help={"wait_timeout": "seconds to wait for every service to be healthy (default 180)"})
@converted
def sandbox_up(c, wait_timeout=180):
    """Bring the sandbox stack up (stage 0 on a fresh deploy dir) and wait until healthy."""
    from rehearsal import sandbox_stack
    sandbox_stack.up(c.config, _settings(c), wait_timeout=int(wait_timeout))


@task
@converted
def sandbox_down(c):
    """Remove the sandbox's containers, networks, volumes and rendered files."""
    from rehearsal import sandbox_stack
    sandbox_stack.sandbox_settings(c.config)  # refuse to run against a production config
    sandbox_stack.down(_settings(c))


@task
@converted
def sandbox_status(c):
    """Show the sandbox's containers and their health (docker compose ps)."""
    from rehearsal import sandbox_stack
    print(sandbox_stack.status(_settings(c)))


@task(help={"stage": "judge against this stage (default: the deployed one, else 0)",
            "json": "print JSON", "nagios": "print one monitoring-plugin line with perfdata",
            "prom": "also write a node_exporter textfile here (atomically)",
            "light": "skip the generate probes (no tokens spent)",
            "timeout": "bound for the whole run, seconds (default: migrate.health.timeout)",
            "history": "print a summary of the recorded runs and exit",
            "no_record": "do not append this run to the health history"})
@converted
def health(c, stage=None, json=False, nagios=False, prom=None, light=False, timeout=None, history=False,
           no_record=False):
    """Check port 11434, the API, the containers, drift and the host; exit 0/1/2/3."""
    from checks import command
    from orchestration import health as target_health
    settings = _settings(c)
    if history:
        print(command.history_summary(settings))
        return
    if json and nagios:
        raise Exit("error: --json and --nagios exclude each other", code=3)
    text, code = target_health.health(settings, stage=None if stage is None else _number(stage, "--stage"),
                                      output="json" if json else "nagios" if nagios else "table",
                                      prom=prom, light=light, timeout=timeout, record=not no_record)
    print(text)
    if code:
        raise Exit(code=code)


def _cron_job(c, every, prom):
    import os
    import sys
    from checks.cron import Job
    runtime = c.config._runtime_path  # the -f file this run was given, so cron runs the same config
    deploy_dir = _settings(c).deploy_dir.resolve()
    return Job(workdir=os.path.dirname(os.path.abspath(__file__)),
               invoke=os.path.join(os.path.dirname(sys.executable), "invoke"),
               config_file=os.path.abspath(runtime) if runtime else None, prom=prom, every=every,
               lock=str(deploy_dir / ".health.lock"))


@task(help={"every": "interval: Nm (1-59) or Nh (1-23); default 5m",
            "prom": "node_exporter textfile to write (default /var/lib/node_exporter/textfile_collector/xiaozhi.prom)",
            "dry_run": "print the new crontab and change nothing",
            "systemd": "print a systemd service and timer pair instead of touching the crontab",
            "mkdir": "create the metrics directory when it does not exist",
            "yes": "write the crontab without asking"})
@converted
def cron_install(c, every="5m", prom="/var/lib/node_exporter/textfile_collector/xiaozhi.prom", dry_run=False,
                 systemd=False, mkdir=False, yes=False):
    """Schedule `invoke health --prom` (with history) under flock, in cron or systemd."""
    from checks import cron
    only_here = sorted(k for k in os.environ if k.startswith("INVOKE_MIGRATE_"))
    if only_here:   # the crontab's line carries -f, not this shell's environment
        print(f"warning: {', '.join(only_here)} set in this shell will not reach cron, whose health runs would then "
              "read other settings (another deploy dir): put them in /etc/invoke.yaml or your -f file first")
    cron.install(_cron_job(c, every, prom), dry_run=dry_run, systemd=systemd, mkdir=mkdir, yes=yes, confirm=_confirm)


@task(help={"dry_run": "print the new crontab and change nothing", "yes": "remove without asking"})
@converted
def cron_remove(c, dry_run=False, yes=False):
    """Remove the health check's crontab entry (other entries are kept)."""
    from checks import cron
    cron.remove(dry_run=dry_run, yes=yes, confirm=_confirm)


@task(help={"channel": "only this channel (its number in migrate.alerts.channels, from 1); default: all"})
@converted
def alerts_test(c, channel=None):
    """Send a test message to each alert channel and print the platform's answer."""
    from orchestration import alerting
    failed = alerting.test(_settings(c), None if channel is None else _number(channel, "--channel"))
    if failed:
        raise Exit(f"{failed} channel(s) did not take the message", code=1)


FLEET_HELP = {"inventory": "the inventory file (its fleet: section); default: migrate.fleet of the config",
              "stage": "the stage to move every host to", "dry_run": "ask every host and print the plan; change nothing",
              "yes": "move without asking"}


@task(help=FLEET_HELP)
@converted
def fleet_phase(c, stage=None, inventory=None, dry_run=False, yes=False):
    """Move every host to a stage: the canary, then batches, each gated by its own health."""
    from core.errors import ConfigError
    from fleet import run
    if stage is None:
        raise ConfigError("which stage?", where="--stage", hint="invoke fleet.phase --stage N --inventory FILE")
    from core.config import OUTAGE
    number = _number(stage, "--stage")
    if number == OUTAGE:
        raise ConfigError("the outage stage is entered on each host with `invoke outage`", where="--stage",
                          hint="a fleet moves between the stages 0-3")
    inv = _inventory(c, inventory)
    code = run.move(inv, number, dry_run=dry_run, yes=yes, confirm=_confirm)
    if code:
        raise Exit(code=code)


@task(help={**{k: v for k, v in FLEET_HELP.items() if k != "stage"}, "to": "the stage every host goes back to"})
@converted
def fleet_rollback(c, to=None, inventory=None, dry_run=False, yes=False):
    """Take every host back to a stage, canary first, in the same batches."""
    from core.errors import ConfigError
    from fleet import run
    if to is None:
        raise ConfigError("back to which stage?", where="--to", hint="invoke fleet.rollback --to N --inventory FILE")
    inv = _inventory(c, inventory)
    code = run.move(inv, _number(to, "--to"), task="rollback", dry_run=dry_run, yes=yes, confirm=_confirm)
    if code:
        raise Exit(code=code)


@task(help={"inventory": FLEET_HELP["inventory"]})
@converted
def fleet_status(c, inventory=None):
    """Every host's target, stage, since, health, pending, as one table."""
    from fleet import run
    code = run.status(_inventory(c, inventory))
    if code:
        raise Exit(code=code)


@task(help={"inventory": FLEET_HELP["inventory"], "json": "the hosts' reports as one JSON document"})
@converted
def fleet_health(c, inventory=None, json=False):
    """Every host's health, aggregated with the monitoring-plugin exit codes."""
    from core.errors import MigrationError
    from fleet import run
    try:
        inv = _inventory(c, inventory)
    except MigrationError as exc:   # monitoring reads 2 as CRITICAL: an unusable inventory is UNKNOWN
        run.unknown(exc, as_json=json)
        raise Exit(code=3) from None
    code = run.health(inv, as_json=json)
    if code:
        raise Exit(code=code)


fleet = Collection("fleet")
fleet.add_task(fleet_phase, "phase")
fleet.add_task(fleet_rollback, "rollback")
fleet.add_task(fleet_status, "status")
fleet.add_task(fleet_health, "health")

decom = Collection("decommission")
decom.add_task(decommission, "run", default=True)
decom.add_task(decommission_restore, "restore")
decom.add_task(decommission_purge, "purge")

cron = Collection("cron")
cron.add_task(cron_install, "install")
cron.add_task(cron_remove, "remove")

sandbox = Collection("sandbox")
sandbox.add_task(sandbox_build, "build")
sandbox.add_task(sandbox_up, "up")
sandbox.add_task(sandbox_down, "down")
sandbox.add_task(sandbox_status, "status")

alerts = Collection("alerts")
alerts.add_task(alerts_test, "test")

ns = Collection(demo, phase, rollback, outage, status, render, health, bench, decom, cron, alerts, sandbox, fleet)
for _spec in registry.specs():   # a target's own tasks (the router's image, for one)
    if _spec.tasks:
        ns.add_collection(registry.load(_spec.tasks))
# The defaults as the collection's configuration: below /etc/invoke.yaml, ~/.invoke.yaml, a project
# invoke.yaml, INVOKE_MIGRATE_* and -f, as Invoke documents its levels.
ns.configure(defaults.load())
