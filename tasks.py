"""Command surface of the migration toolkit. Each task parses its flags, calls the packages,
and turns a MigrationError into a clean exit; the work lives in deploy/, checks/, toolkit/.
Imports of the heavy packages stay inside the tasks so that `invoke --list` stays fast."""
from __future__ import annotations

import functools

from invoke import Collection, Exit, task


def converted(fn):
    """The one place where toolkit errors become exit codes and messages."""
    @functools.wraps(fn)
    def wrapper(c, *args, **kwargs):
        from toolkit.errors import MigrationError
        try:
            return fn(c, *args, **kwargs)
        except MigrationError as exc:
            raise Exit(f"error: {exc.message}", code=exc.exit_code) from None
    return wrapper


def _settings(c):
    from toolkit import config
    return config.load(c.config)


@task(help={"out": "folder for the rendered stages (default: compose/)",
            "check": "only compare: exit 1 when compose/ differs from the templates"})
@converted
def render(c, out="compose", check=False):
    """Render every stage from templates/ into compose/stage-N/ (key redacted) for review."""
    from deploy import review
    changed = review.write_all(out, check=check)
    for path in changed:
        print(("differs: " if check else "wrote: ") + str(path))
    if check and changed:
        raise Exit("compose/ is out of date: run `invoke render` and commit the result", code=1)
    if not changed:
        print(f"{out}/ matches the templates")


@task(help={"rebuild": "build the sandbox image even when it exists"})
@converted
def sandbox_build(c, rebuild=False):
    """Build the sandbox image (and a local base image when no registry is reachable)."""
    from toolkit import sandbox_stack
    sandbox_stack.build(c.config, rebuild=rebuild)


@task(help={"wait_timeout": "seconds to wait for every service to be healthy (default 180)"})
@converted
def sandbox_up(c, wait_timeout=180):
    """Bring the sandbox stack up (stage 0 on a fresh deploy dir) and wait until healthy."""
    from toolkit import sandbox_stack
    sandbox_stack.up(c.config, _settings(c), wait_timeout=int(wait_timeout))


@task
@converted
def sandbox_down(c):
    """Remove the sandbox's containers, networks, volumes and rendered files."""
    from toolkit import sandbox_stack
    sandbox_stack.sandbox_settings(c.config)  # refuse to run against a production config
    sandbox_stack.down(_settings(c))


@task
@converted
def sandbox_status(c):
    """Show the sandbox's containers and their health (docker compose ps)."""
    from toolkit import sandbox_stack
    print(sandbox_stack.status(_settings(c)))


sandbox = Collection("sandbox")
sandbox.add_task(sandbox_build, "build")
sandbox.add_task(sandbox_up, "up")
sandbox.add_task(sandbox_down, "down")
sandbox.add_task(sandbox_status, "status")

ns = Collection(render, sandbox)
