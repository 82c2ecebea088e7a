"""Each stage's data/.config.yaml from the user's own: only the keys the toolkit owns change, the
walk there and back leaves every other line as it was, and the plan names each change."""
import difflib

import pytest

from targets.xiaozhi_server import server_config as sc
from targets.xiaozhi_server import stages

from .test_server_config import RICH

ENTRIES = stages.Entries(local="OllamaLLM", api={"type": "openai", "base_url": "https://dashscope.aliyuncs.com/"
                                                  "compatible-mode/v1", "model_name": "qwen-plus",
                                                  "api_key": "sk-real-0123456789"},
                         router_url="http://xiaozhi-router:4000/v1", router_key="sk-master-abc")
OWNED_LINES = ("  LLM: ", "    llm: ")   # selected_module.LLM, and the intent / memory references


def theirs(text: str) -> list[str]:
    """The file without the toolkit's entries and the lines it owns."""
    data = sc.load(text)
    for name in (stages.API_ENTRY, stages.ROUTER_ENTRY):
        sc.remove_entry(data, name)
    return [line for line in sc.dump(data).splitlines() if not line.startswith(OWNED_LINES)]


@pytest.mark.parametrize("number, selected, intent", [(0, "OllamaLLM", "OllamaLLM"), (1, "OllamaLLM", "OllamaLLM"),
                                                      (2, stages.ROUTER_ENTRY, "OllamaLLM"),
                                                      (3, stages.API_ENTRY, stages.API_ENTRY)])
def test_each_stage_selects_and_adds_what_it_says(number, selected, intent):
    edited = stages.render(RICH, number, ENTRIES)
    data = sc.load(edited.text)
    assert sc.selected_llm(data) == selected
    assert data["Intent"]["intent_llm"]["llm"] == intent and data["Memory"]["mem_local_short"]["llm"] == intent
    assert (stages.API_ENTRY in data["LLM"]) is (number >= 1)
    assert (stages.ROUTER_ENTRY in data["LLM"]) is (number == 2)
    assert theirs(edited.text) == theirs(RICH), "a line of theirs changed"
    if number == 2:
        assert data["LLM"][stages.ROUTER_ENTRY]["base_url"] == "http://xiaozhi-router:4000/v1"
    assert (edited.retargeted == ["Intent.intent_llm.llm", "Memory.mem_local_short.llm"]) is (number == 3)


COMMENTED = RICH.replace("    llm: OllamaLLM\n", "    llm: OllamaLLM # 意图 (intent)\n", 1)


@pytest.mark.parametrize("theirs", [RICH, COMMENTED], ids=["rich", "comment-after-a-moved-reference"])
def test_the_walk_there_and_back_keeps_their_file_byte_for_byte(theirs):
    text, retargeted, seen = theirs, (), []
    for number in (0, 1, 2, 3, 2, 1, 0):
        edited = stages.render(text, number, ENTRIES, tuple(retargeted))
        seen.append(edited.changes)
        text, retargeted = edited.text, edited.retargeted or (retargeted if number >= 3 else ())
    differing = [l for l in difflib.ndiff(theirs.splitlines(), text.splitlines()) if l[:1] in "+-"]
    assert text == theirs, differing   # a comment after a value the walk rewrote keeps its place too
    assert seen[0] == [] and "selected_module.LLM: MigrateRouterLLM -> MigrateApiLLM" in seen[3]
    assert "Intent.intent_llm.llm: MigrateApiLLM -> OllamaLLM" in seen[4]


def test_the_plan_words_never_carry_the_key():
    for number in range(4):
        assert all("sk-" not in change for change in stages.render(RICH, number, ENTRIES).changes)


def test_a_stage_twice_changes_nothing():
    once = stages.render(RICH, 2, ENTRIES)
    twice = stages.render(once.text, 2, ENTRIES)
    assert twice.text == once.text and twice.changes == []
