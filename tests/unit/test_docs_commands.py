"""Every command the README and the runbooks tell an operator to type exists, with every flag
they give it: the docs may not promise a task or an option the toolkit does not have."""
import re

import pytest

import tasks

from ..conftest import ROOT

DOCS = ("README.md", "docs/runbook.md", "docs/runbook.zh-CN.md")
COMMAND = re.compile(r"invoke(?: -f \S+)? ([a-z][a-z0-9._-]*)((?:[ \t]+\[?--[a-z][a-z0-9-]*(?:[ =][^\s`\]|]+)?\]?)*)")


def commands():
    for doc in DOCS:
        for match in COMMAND.finditer((ROOT / doc).read_text()):
            yield doc, match.group(1), re.findall(r"--([a-z][a-z0-9-]*)", match.group(2))


def flags_of(name: str) -> set[str]:
    task = tasks.ns[name]
    return {n.replace("_", "-") for argument in task.get_arguments() for n in argument.names}


CASES = sorted(set((doc, name, tuple(flags)) for doc, name, flags in commands()))


def test_the_docs_name_commands_at_all():
    assert len(CASES) > 40 and {name for _, name, _ in CASES} >= {"phase", "rollback", "health", "decommission.purge"}


@pytest.mark.parametrize("doc, name, flags", CASES)
def test_each_command_and_flag_in_the_docs_exists(doc, name, flags):
    names = set(tasks.ns.task_names) | {alias for aliases in tasks.ns.task_names.values() for alias in aliases}
    assert name in names, f"{doc}: `invoke {name}` is no task"
    missing = [f for f in flags if f not in flags_of(name) | {"help"}]
    assert not missing, f"{doc}: `invoke {name}` has no --{', --'.join(missing)}"


@pytest.mark.parametrize("variant, term", [("回退", "回滚"), ("隔离区", "隔离目录"), ("管理后台", "智控台")])
def test_the_chinese_runbook_says_one_thing_one_way(variant, term):
    text = (ROOT / "docs/runbook.zh-CN.md").read_text()
    assert variant not in text and term in text, f"write {term}, not {variant}"
