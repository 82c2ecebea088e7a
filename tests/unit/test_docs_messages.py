"""Every message the runbooks quote is one the toolkit prints: each quoted message (an inline code
span of three words or more that is not a command) must be a piece of what some string of the
toolkit's code can print, its f-string fields and joined values read as "anything". The runbooks
write a varying part as `...`, `N`, `<what>` or (in the commands' own words) WHERE / WHAT. What a
runbook quotes that is not the toolkit's (a chat platform's answer) is listed below, with why."""
import ast
import functools
import itertools
import re

import pytest

from ..conftest import ROOT

RUNBOOKS = ("docs/runbook.md", "docs/runbook.zh-CN.md")
PACKAGES = ("core", "adapters", "checks", "deploy", "decommission", "bench", "xiaozhi_server", "alerts",
            "orchestration", "rehearsal")
NOT_OURS = {
    "errcode 310000 sign not match": "DingTalk's answer to a wrong signing secret, quoted to explain it",
}
COMMAND = re.compile(r"^(invoke|docker|grep|sudo|ollama|systemctl|curl|crontab|bash|cat|ls|chmod|chown|export|"
                     r"python3?|pip|git|journalctl|du|df|free|ss|tail|cd|install|-f)\b")
ELIDED = re.compile(r"\.\.\.|…|<[^>]+>|\bN\b(?!\])|\bWHERE\b|\bWHAT\b|位置|原因")  # [y/N] is printed as is
HOLE = None  # a value the code fills in


def _pieces(node) -> list[tuple]:
    """The ways a string expression reads, each as literal pieces and HOLEs (capped)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(node.value,)]
    if isinstance(node, ast.JoinedStr):
        parts = [[(v.value,)] if isinstance(v, ast.Constant) else _pieces(v.value) for v in node.values]
        return [sum(combo, ()) for combo in itertools.islice(itertools.product(*parts), 8)]
    if isinstance(node, ast.IfExp):
        return _pieces(node.body) + _pieces(node.orelse)
    if isinstance(node, ast.BoolOp):  # `value or '(none)'`: either
        return [way for value in node.values for way in _pieces(value)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a, b in itertools.islice(itertools.product(_pieces(node.left), _pieces(node.right)), 8)]
    return [(HOLE,)]


def _merged(pieces: tuple) -> tuple:
    out: list = []
    for piece in pieces:
        if piece is HOLE and out and out[-1] is HOLE:
            continue
        if piece is not HOLE and out and out[-1] is not HOLE:
            out[-1] += piece
        else:
            out.append(piece)
    return tuple(out)


@functools.lru_cache(None)
def printed_strings() -> list[tuple]:
    found = set()
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")] + [ROOT / "tasks.py"]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.IfExp, ast.BoolOp)):
                for way in _pieces(node):
                    way = _merged(way)
                    if any(p is not HOLE and len(p.strip()) > 2 for p in way):
                        found.add(way)
    return list(found)


VALUE = re.compile(r"[^\s,;]+(?:, ?[^\s,;]+)*")  # a name, a number, a path, or a list of them


def literal_matched(text: str, way: tuple, depth: int = 0) -> int:
    """How many characters of ``text`` are the string's own letters when ``text`` is a piece of
    what ``way`` can print; -1 when it never is. A HOLE takes a value (a name, a number, a list of
    them) or a whole message some other string prints (a gate's detail, a reason)."""
    def fills(value: str) -> bool:
        if not value or VALUE.fullmatch(value):
            return True
        # A message some other string prints, or a list of them (", ".join of a gate's calls).
        return depth < 2 and (printed(value.strip(), depth + 1)
                              or all(printed(item.strip(), depth + 1) for item in value.split(", ")))

    @functools.lru_cache(None)
    def match(ti: int, pi: int, po: int) -> int:
        if ti == len(text):
            return 0
        if pi == len(way):
            return -1
        piece = way[pi]
        if piece is HOLE:
            # The hole ends where the next piece's letters begin (or with the text).
            following = way[pi + 1] if pi + 1 < len(way) else None
            ends = [len(text)] + ([] if following is None else
                                  [i for i in range(ti, len(text)) if text.startswith(following[:len(text) - i], i)])
            best = -1
            for end in sorted(set(ends)):
                if fills(text[ti:end]):
                    best = max(best, 0 if end == len(text) else match(end, pi + 1, 0))
            return best
        rest, wanted = piece[po:], text[ti:]
        if rest.startswith(wanted):
            return len(wanted)
        if wanted.startswith(rest):
            after = match(ti + len(rest), pi + 1, 0)
            return -1 if after < 0 else after + len(rest)
        return -1
    return max((match(0, pi, po) for pi, piece in enumerate(way)
                for po in ([0] if piece is HOLE else [i for i, c in enumerate(piece) if c == text[0]])), default=-1)


@functools.lru_cache(None)
def printed(text: str, depth: int = 0) -> bool:
    """Some string prints ``text``, at least 8 of its letters (or half, when shorter) its own."""
    need = min(8, max(1, len(text.replace(" ", "")) // 2))
    for way in printed_strings():
        literals = [p for p in way if p is not HOLE and len(p.strip()) >= 3]
        if any(p.strip() in text or text in p for p in literals) and literal_matched(text, way, depth) >= need:
            return True
    return False


def quoted(doc: str) -> list[str]:
    text = re.sub(r"```.*?```", "", (ROOT / doc).read_text(), flags=re.S)
    text = re.sub(r"``.*?``", "", text, flags=re.S)
    spans = {re.sub(r"\s+", " ", span.strip()) for span in re.findall(r"`([^`]+)`", text)}
    # A YAML value ({kind: ...}, [a, b]) is a setting to write, not a message.
    return sorted(s for s in spans if len(s.split()) >= 3 and not COMMAND.match(s) and s[0] not in "{[")


CASES = [(doc, span) for doc in RUNBOOKS for span in quoted(doc)]


def test_the_runbooks_quote_messages_at_all():
    assert len(CASES) > 40


@pytest.mark.parametrize("doc, message", CASES)
def test_each_quoted_message_is_printed_by_the_code(doc, message):
    if message in NOT_OURS:
        return
    fragments = [f.strip() for f in ELIDED.split(message) if f.strip()]
    # A printed line is often composed: "gate api: passed: " + the gate's own detail.
    missing = [f for f in fragments if not printed(f) and not all(printed(p) for p in f.split(": ") if p.strip())]
    assert not missing, f"{doc} quotes {message!r}, but the code prints no {missing}"


@pytest.mark.parametrize("message, verdict", [
    ("stage N failed and was rolled back", True),
    ("recreate: asr, llm-service, tts, vad", True),                  # a joined list in a literal frame
    ("set -> set (a different value, not shown)", True),             # branches of a conditional
    ("stage N failed and was rolled forward", False),                # one word off
    ("the router reached the moon", False),
    ("restarting xiaozhi-esp32-server (its clients reconnect by themselves)", False),  # a reason no string gives
    ("gate history: passed: no WARNING seen in the last 12 records", False),
    ("gate key: passed: an API key is set (QWEN_API_KEY)", True),      # a gate's detail, printed by its own string
])
def test_the_check_itself_tells_a_printed_message_from_one_that_is_not(message, verdict):
    assert all(printed(f.strip()) for f in ELIDED.split(message) if f.strip()) is verdict


def output_lines(doc: str) -> list[str]:
    """The lines a ```console block shows the toolkit printing (not the `$` command, not `...`)."""
    lines = []
    for block in re.findall(r"```console\n(.*?)```", (ROOT / doc).read_text(), flags=re.S):
        lines += [line.strip() for line in block.splitlines()
                  if line.strip() and not line.startswith("$ ") and line.strip() != "..."]
    return lines


OUTPUT = sorted({(doc, line) for doc in RUNBOOKS for line in output_lines(doc)})


def test_the_runbooks_show_expected_output_for_each_stage_of_the_server():
    for doc in RUNBOOKS:
        shown = "\n".join(output_lines(doc))
        for n, name in enumerate(("baseline", "validate", "shift", "cutover")):
            assert f"stage {n} ({name}) applied and verified" in shown, (doc, n)


# In output, the values the code fills in from your file and settings: URLs, entry names
# (OllamaLLM, MigrateApiLLM), dotted keys of your file (Intent.intent_llm.llm), model names.
VALUES = re.compile(r"https?://\S+|\b[A-Z]\w*LLM\b|\b\w+(?:\.\w+)+\b|\bqwen[\w.:-]*|\bxiaozhi-llm\b")


@pytest.mark.parametrize("doc, line", OUTPUT)
def test_each_line_of_expected_output_is_printed_by_the_code(doc, line):
    fragments = [f.strip() for part in ELIDED.split(line) for f in VALUES.split(part) if f.strip()]
    missing = [f for f in fragments if not printed(f) and not all(printed(p) for p in f.split(": ") if p.strip())]
    assert not missing, f"{doc} shows {line!r} as output, but the code prints no {missing}"
