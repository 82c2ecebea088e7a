"""What every task of the toolkit is made with, wherever it is defined (tasks.py, or a target's
own tasks.py named by its TargetSpec): Invoke's @task without automatic short flags, the one
conversion of toolkit errors into exit codes, and the settings the config gives."""
from __future__ import annotations

import functools
import os
import sys

from invoke import Exit
from invoke import task as _task

MARK = "xiaozhi_migrate"   # the key of the one JSON line a task prints with --json (a fleet reads it)

# No automatic short flags: `-h` must mean help everywhere (it meant --history for `health`).
task = functools.partial(_task, auto_shortflags=False)


def converted(fn):
    """The one place where toolkit errors become exit codes and messages. While a task runs, its
    stdout and stderr mask every key the config loader has found (in every form Python prints)."""
    @functools.wraps(fn)
    def wrapper(c, *args, **kwargs):
        from core.errors import MigrationError
        from core.secrets import KEY_VARIABLES, RedactingStream, redact, register
        for name in KEY_VARIABLES:  # known before any config is read: a failing load may quote it
            register(os.environ.get(name, "").strip())
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
        try:
            return fn(c, *args, **kwargs)
        except MigrationError as exc:
            # Errors quote commands' stderr and servers' answers: never let a key through.
            raise Exit(f"error: {redact(exc.message)}", code=exc.exit_code) from None
        finally:
            sys.stdout.flush()
            sys.stdout, sys.stderr = streams
    return wrapper


def settings(c):
    """The validated settings of the task's Invoke config."""
    from core import config
    return config.load(c.config)
