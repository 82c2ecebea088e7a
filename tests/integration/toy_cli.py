"""`invoke` with the test-only toy target registered: one line in the toolkit's registry of
targets (core/registry.py), and nothing else. Run as `python -m tests.integration.toy_cli -f CONFIG TASK ...` from the project root."""
import sys

from invoke import Program

from core import registry

registry.TARGETS["toy"] = "tests.integration.toy_target"   # its SPEC

import tasks  # noqa: E402  (after the registration: the tasks read the registry)

Program(namespace=tasks.ns, version="toy").run(["invoke", *sys.argv[1:]])
