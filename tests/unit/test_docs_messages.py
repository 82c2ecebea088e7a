"""Every message the runbooks quote is one the toolkit prints: each quoted message (an inline code
span of three words or more that is not a command) and each line of a ```console block's output
must be a piece of what one string of the toolkit's code prints (docstrings aside). Where the
string fills in a value (an f-string field, a joined list), the quote may hold any value there (a
name, a number, a list); where it fills in a sentence, that sentence must be one another string
prints, whole. The runbooks write a varying part as `...`, `N`, `<what>` or WHERE / WHAT. What a
runbook quotes that is not one string of the toolkit's is listed below, with why.

Read from the code, not run: a quote that joins two messages the way the code joins any two ("A:
B", where the code prints "{what}: B") passes even if those two never meet; a quote one word off,
cut together from two pieces, or with nothing of the code's own, fails (the table at the end)."""
import ast
import functools
import itertools
import re

import pytest

from ..conftest import ROOT

RUNBOOKS = ("docs/runbook.md", "docs/runbook.zh-CN.md")
PACKAGES = ("core", "adapters", "checks", "engine", "compose_stack", "targets", "decommission", "bench", "alerts",
            "orchestration", "rehearsal", "fleet")
NOT_OURS = {
    "errcode 310000 sign not match": "DingTalk's answer to a wrong signing secret, quoted to explain it",
    "local.port ... closed": "a row of the health table: a check's name, then its actual value",
}
COMMAND = re.compile(r"^(invoke|docker|grep|sudo|ollama|systemctl|curl|crontab|bash|cat|ls|chmod|chown|export|"
                     r"python3?|pip|git|journalctl|du|df|free|ss|tail|cd|install|-f)\b")
ELIDED = re.compile(r"\.\.\.|…|<[^>]+>|\bN\b(?!\])|\bWHERE\b|\bWHAT\b|位置|原因")  # [y/N] is printed as is
HOLE = None  # a value the code fills in
# In output, the values the code fills in from your file and settings: URLs, entry names
# (OllamaLLM, MigrateApiLLM), dotted keys of your file (Intent.intent_llm.llm), model names.
VALUES = re.compile(r"https?://\S+|\b[A-Z]\w*LLM\b|\b\w+(?:\.\w+)+\b|\bqwen[\w.:-]*|\bxiaozhi-llm\b")



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
        tree = ast.parse(path.read_text())
        # A string standing alone (a docstring) is never printed.
        alone = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
                 and isinstance(node.value, ast.Constant)}
        for node in ast.walk(tree):
            if id(node) in alone:
                continue
            if isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.IfExp, ast.BoolOp)):
                for way in _pieces(node):
                    way = _merged(way)
                    if any(p is not HOLE and len(p.strip()) > 2 for p in way):
                        found.add(way)
    return list(found)


WILD = "\x00"   # where a runbook elides (`...`, N, <entry>) or, in output, a value of yours
TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> tuple[str, ...]:
    return tuple(TOKEN.findall(text))


@functools.lru_cache(None)
def constants() -> set[str]:
    """Every one-word string of the code: what a variable it prints (a verb, a status) can hold."""
    return {piece.strip() for way in printed_strings() for piece in way
            if piece is not HOLE and re.fullmatch(r"\s*[a-z]+\s*", piece)}


@functools.lru_cache(None)
def token_ways() -> list[tuple]:
    """Each string of the code as tokens, a HOLE where it fills in a value."""
    ways = set()
    for way in printed_strings():
        out: list = []
        for piece in way:
            out += [HOLE] if piece is HOLE else list(tokens(piece))
        ways.add(tuple(out))
    return [w for w in ways if any(t is not HOLE for t in w)]


def _prose(run: tuple) -> bool:
    """Two words in a row: a sentence some other string must print, not a value (a name, a list)."""
    return any(a not in (WILD,) and b not in (WILD,) and a[0].isalnum() and b[0].isalnum()
               for a, b in zip(run, run[1:]))


def _align(doc: tuple, way: tuple, depth: int, open_start: bool = True, open_end: bool = True):
    """The best way ``doc`` is a piece of what ``way`` prints: (tokens the way's own letters match,
    of them words, tokens that count), or None. A HOLE takes one or more tokens: a value (not
    counted) or, when it is prose, a message another string prints (counted as matched then)."""
    # What fills a hole is a whole message of another string, not a piece of one, except where
    # the quote itself begins or ends inside that hole.
    @functools.lru_cache(None)
    def go(i: int, j: int):
        if i == len(doc):
            return (0, 0, 0, 0, 0, 0) if open_end or all(t is HOLE for t in way[j:]) else None
        if doc[i] == WILD:
            options = [go(i + 1, k) for k in range(j, len(way) + 1)]
            return _best(options)
        if j == len(way):
            return None
        if way[j] is HOLE:
            options = []
            for k in range(i + 1, len(doc) + 1):
                run = doc[i:k]
                rest = go(k, j + 1)
                if rest is None:
                    continue
                if _prose(run) and not (k < len(doc) and len(run) <= 3):   # "enable_thinking false": a name
                    ends = (open_start and i == 0, k == len(doc) and open_end)
                    if depth > 0 or not (passes(run, depth + 1, *ends) or _items_pass(run, depth + 1)):
                        continue
                    own = [t for t in run if t != WILD]
                    w = sum(t[0].isalnum() for t in own)
                    options.append((rest[0] + len(own), rest[1] + w, rest[2] + len(own), rest[3] + w, rest[4], rest[5]))
                elif k == len(doc) and all(t.isalpha() and t.islower() for t in run) and run[0] not in constants():
                    continue   # a plain word the text ends on is a value only if the code has it as one
                elif any(t == ":" and not (n[:1].isdigit() or n == WILD) for t, n in zip(run, run[1:] + ("",))):
                    continue   # "a: b" is a message's shape, not a value's (qwen:25 is one)
                else:
                    options.append(rest)
            return _best(options)
        if doc[i] != way[j]:
            return None
        rest = go(i + 1, j + 1)
        w = doc[i][0].isalnum()
        return None if rest is None else (rest[0] + 1, rest[1] + w, rest[2] + 1, rest[3] + w, rest[4] + 1, rest[5] + w)
    return _best([go(0, j) for j in (range(len(way)) if open_start else range(1))])


def _items_pass(run: tuple, depth: int) -> bool:
    """A list of messages (", ".join of a gate's calls): each item printed by some string."""
    items, item = [], []
    for t in run + (",",):
        if t == ",":
            items.append(tuple(item))
            item = []
        else:
            item.append(t)
    return len(items) > 1 and all(it and (not _prose(it) or passes(it, depth, False, False)) for it in items)


def _best(options):
    options = [o for o in options if o is not None]
    return max(options, key=lambda o: (o[0] / max(o[2], 1), min(o[5], 1), min(o[4], 2), o[1], o[0])) if options else None


@functools.lru_cache(None)
def passes(doc: tuple, depth: int = 0, open_start: bool = True, open_end: bool = True) -> bool:
    """Some one string of the code prints ``doc``: two tokens of its own match, two of its words
    that are not values (or the one), and at least 60% of the tokens that are not values; a text
    that is all values needs the code's own punctuation around them, whole."""
    words = {t for t in doc if t != WILD and len(t) >= 3}
    for way in token_ways():
        if words and not words & set(way):
            continue
        found = _align(doc, way, depth, depth == 0 or open_start, depth == 0 or open_end)
        if found is None:
            continue
        covered, covered_words, counted, counted_words, own, own_words = found
        if counted_words == 0:   # all values around the code's own punctuation ("KEY: A -> B"): its shape, whole
            if covered >= 2 and covered == counted:
                return True
        elif (covered_words >= min(2, counted_words) and covered >= (2 if depth == 0 else 1) and covered >= 0.6 * counted
              and own >= (2 if depth == 0 else 1) and own_words >= 1):   # its own letters, not others' only
            return True
    return False


def printed(text: str) -> bool:
    return passes(tokens(text))


def wild(message: str, values: bool = False) -> str:
    """The message with what the runbook elides (and, in output, your values) as WILD; the
    ` [y/N]` every question gets is the prompt's, not the question's."""
    text = ELIDED.sub(WILD, message.removesuffix(" [y/N]"))
    if values:
        text = VALUES.sub(WILD, text)
    return re.sub(WILD + r"(\s*" + WILD + ")+", WILD, text).strip()


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
    assert printed(wild(message)), f"{doc} quotes {message!r}, but no string of the code prints it"


@pytest.mark.parametrize("message, verdict", [
    ("stage N failed and was rolled back", True),
    ("recreate: asr, llm-service, tts, vad", True),                  # a joined list in a literal frame
    ("set -> set (a different value, not shown)", True),             # branches of a conditional
    ("stage N failed and was rolled forward", False),                # one word off
    ("the router reached the moon", False),
    ("restarting xiaozhi-esp32-server (its clients reconnect by themselves)", False),  # a reason no string gives
    ("gate history: passed: no WARNING seen in the last 12 records", False),
    ("gate key: passed: an API key is set (QWEN_API_KEY)", True),      # a gate's detail, printed by its own string
    # what a review made up to get past an earlier version of this check
    ("stage 3 (cutover) applied and verified: nothing was changed", False),
    ("the ... deleted ... everything", False),
    ("What the observed facts mean at a stage", False),               # a docstring is never printed
    ("api.key.leaked sk.abc.def", False),                             # nothing left once the values go
    ("Error: Error: Error", False),
    ("reaches Ollama at ..., and everything is fine", False),
])
def test_the_check_itself_tells_a_printed_message_from_one_that_is_not(message, verdict):
    assert printed(wild(message, values=True)) is verdict


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




@pytest.mark.parametrize("doc, line", OUTPUT)
def test_each_line_of_expected_output_is_printed_by_the_code(doc, line):
    assert printed(wild(line, values=True)), f"{doc} shows {line!r} as output, but no string of the code prints it"
