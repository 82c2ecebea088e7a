"""`invoke` with the test-only toy target registered: one line in each registry the toolkit keeps
(the target registry, the names config accepts, where a target's deployment keeps the key), and
nothing else. Run as `python -m tests.integration.toy_cli -f CONFIG TASK ...` from the project root."""
import sys

from invoke import Program

from core import config, secrets
from orchestration import targets

targets.TARGETS["toy"] = "tests.integration.toy_target:Toy"
config.TARGET_NAMES = (*config.TARGET_NAMES, "toy")
secrets.KEY_PLACES["toy"] = secrets.KeyPlace("toy.json", lambda text: "")

import tasks  # noqa: E402  (after the registration: the tasks read the registries when they run)

Program(namespace=tasks.ns, version="toy").run(["invoke", *sys.argv[1:]])
