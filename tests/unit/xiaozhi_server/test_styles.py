"""Their data/.config.yaml in styles other than ours: every stage keeps each line of theirs byte
for byte (indentation, sequence style, quoting, CRLF, a byte-order mark, no final newline), a
comment they write after an entry of the toolkit's stays when that entry goes, stage 0 on a file
the toolkit never touched gives their bytes back unparsed, and a file whose style the round trip
cannot keep is refused before anything is written."""
import pytest

from core.errors import Refused
from targets.xiaozhi_server import server_config as sc
from targets.xiaozhi_server import stages

from .test_stages import ENTRIES

FOUR = """\
# four spaces, sequences indented under their key
server:
    ip: 0.0.0.0
    port: 8000     # theirs, spaced
    auth:
        enabled: false
        tokens:
            - token: 'their-token'
              name: "device"
selected_module:
    VAD: SileroVAD
    LLM: OllamaLLM   # the local one
Intent:
    intent_llm:
        type: intent_llm
        llm: OllamaLLM
Memory:
    mem_local_short:
        llm: OllamaLLM
LLM:
    OllamaLLM:
        type: ollama
        model_name: qwen2.5
        base_url: http://localhost:11434
wakeup_words:
    - "你好小智"
    - 小智
"""
FLUSH_SEQUENCES = FOUR.replace("            - token", "        - token").replace("              name", "          name") \
    .replace("    - \"你好小智\"", "- \"你好小智\"").replace("    - 小智", "- 小智")
TWO_OFFSET = """\
server:
  ip: 0.0.0.0
  port: 8000     # theirs, spaced
  auth:
    tokens:
      - token: 'their-token'
        name: "device"
selected_module:
  VAD: SileroVAD
  LLM: OllamaLLM   # the local one
Intent:
  intent_llm:
    llm: OllamaLLM
LLM:
  OllamaLLM:
    type: ollama
wakeup_words:
  - "你好小智"
  - 小智
"""

STYLES = {
    "4-space": FOUR,
    "4-space, flush sequences": FLUSH_SEQUENCES,
    "2-space, offset sequences": TWO_OFFSET,
    "CRLF": FOUR.replace("\n", "\r\n"),
    "byte-order mark": "\ufeff" + FOUR,
    "no final newline": FOUR.rstrip("\n"),
    "CRLF, 2-space, no final newline": TWO_OFFSET.replace("\n", "\r\n").rstrip("\r\n"),
    "a block scalar last, no final newline": FOUR + "prompt: |\n    你是小智。\n    回答要简短。",
    "the LLM section last, no final newline": FOUR.split("wakeup_words:")[0].rstrip("\n"),
    "mixed line endings": FOUR.replace("selected_module:\n", "selected_module:\r\n"),
    "trailing spaces and a long line": FOUR.replace("port: 8000     # theirs, spaced", "port: 8000   ")
    + "prompt: " + "很长的提示词，" * 800 + "\n",
    "document start": "---\n" + FOUR,
}


@pytest.mark.parametrize("name", STYLES)
def test_stage_zero_on_their_file_gives_their_bytes_back(name):
    assert stages.render(STYLES[name], 0, ENTRIES).text == STYLES[name]


@pytest.mark.parametrize("name", STYLES)
def test_the_walk_there_and_back_keeps_every_byte_and_line_ending(name):
    text = STYLES[name]
    now, moved = text, ()
    newline = "\r\n" if "\r\n" in text else "\n"
    for number in (1, 2, 3, 2, 1, 0):
        edited = stages.render(now, number, ENTRIES, moved)
        now, moved = edited.text, tuple(edited.retargeted) or moved
        if name != "mixed line endings":
            assert now.count(newline) == now.count("\n"), f"stage {number}: a line ending changed"
        assert now.startswith("\ufeff") is text.startswith("\ufeff")
        for line in text.splitlines(keepends=True):
            if "OllamaLLM" not in line:          # the owned lines that name the local entry may change
                assert line in now or line.rstrip("\r\n") == now.rsplit(newline, 1)[-1], \
                    f"stage {number} changed a line of theirs"
    assert now == text


def test_a_comment_they_write_after_a_toolkit_entry_stays_when_it_goes():
    at_one = stages.render(FOUR, 1, ENTRIES).text
    lines = at_one.splitlines(keepends=True)
    after_entry = max(i for i, line in enumerate(lines) if "api_key:" in line) + 1
    commented = "".join(lines[:after_entry] + ["    # GLM for the weekend, ask Li\n"] + lines[after_entry:])
    back = stages.render(commented, 0, ENTRIES).text
    assert "    # GLM for the weekend, ask Li\n" in back
    assert back.replace("    # GLM for the weekend, ask Li\n", "") == FOUR


@pytest.mark.parametrize("text", [
    FOUR.replace("Memory:\n    mem_local_short:\n        llm:", "Memory:\n  mem_local_short:\n    llm:"),   # mixed indent
    FOUR.replace("    ip: 0.0.0.0", "    ip:   0.0.0.0"),                                          # spaced value
])
def test_a_style_the_round_trip_cannot_keep_is_refused_naming_the_line_not_its_value(text):
    with pytest.raises(Refused) as err:
        stages.render(text, 1, ENTRIES)
    assert "line " in err.value.message and "nothing was changed" in err.value.message
    assert "0.0.0.0" not in err.value.message and "their-token" not in err.value.message


@pytest.mark.parametrize("name, mapping, sequence, offset", [
    ("4-space", 4, 6, 4), ("4-space, flush sequences", 4, 2, 0), ("2-space, offset sequences", 2, 4, 2),
])
def test_the_style_is_read_from_their_file(name, mapping, sequence, offset):
    style = sc.style_of(STYLES[name])
    assert (style.mapping, style.sequence, style.offset) == (mapping, sequence, offset)


def test_a_file_without_an_llm_section_gets_the_section_and_loses_it_on_the_way_back():
    text = "# mine\nselected_module:\n  LLM: OllamaLLM\nserver:\n  port: 8000\n"
    at_one = stages.render(text, 1, ENTRIES).text
    assert stages.API_ENTRY in at_one
    assert stages.render(at_one, 0, ENTRIES).text == text


@pytest.mark.parametrize("text, key", [
    ("selected_module: {VAD: SileroVAD, LLM: OllamaLLM, TTS: \"\\u5c0f\\u667a\", Memory: ~}\nLLM:\n  OllamaLLM: {}\n",
     "LLM"),
    ("selected_module:\n  LLM: OllamaLLM\nLLM: {OllamaLLM: {type: ollama}}\n", "LLM"),
])
def test_an_owned_key_in_a_one_line_mapping_is_refused_not_rewritten(text, key):
    with pytest.raises(Refused) as err:
        for number in (1, 2):
            text = stages.render(text, number, ENTRIES).text
    assert "written on one line" in err.value.message and "nothing was changed" in err.value.message
