"""The upstream server's ``data/.config.yaml``, edited round-trip: comments, key order, quoting
and every key the toolkit does not own stay byte for byte (ruamel.yaml). The toolkit owns only
``selected_module.LLM``, the LLM entries it adds (named with ``OWNED_PREFIX``), and, at cut-over,
``Intent.intent_llm.llm`` and ``Memory.mem_local_short.llm`` when they name the local entry.
Pure: text in, text out; the server's own merge of its built-in config.yaml is ``merged``."""
from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError, Refused

OWNED_PREFIX = "Migrate"          # every LLM entry the toolkit adds: MigrateRouterLLM, ...
REFERENCES = (("Intent", "intent_llm", "llm"), ("Memory", "mem_local_short", "llm"))  # other places naming an LLM entry


BOM = "\ufeff"


@dataclass(frozen=True)
class Style:
    """How their file is written, so that a dump writes it the same way: line endings, the
    mapping indent, where a block sequence's dash sits (offset) and its item (sequence)."""
    newline: str = "\n"
    mapping: int = 2
    sequence: int = 2
    offset: int = 0
    bom: bool = False
    final_newline: bool = True
    explicit_start: bool = False    # the document begins with ---


_OPENS = re.compile(r"^( *)[^\s#-][^#]*:[ \t]*(#.*)?$")     # a key whose value is the block below it
_ITEM = re.compile(r"^( *)-(?:[ \t]|$)")


def style_of(text: str) -> Style:
    """The style most of their file is written in (a file mixing styles is caught by ``kept``)."""
    body = text[1:] if text.startswith(BOM) else text
    newline = "\r\n" if "\r\n" in body and body.count("\r\n") == body.count("\n") else "\n"
    lines = [line for line in body.replace("\r\n", "\n").split("\n") if line.strip() and not line.lstrip().startswith("#")]
    mappings, offsets = Counter(), Counter()
    for prev, line in zip(lines, lines[1:]):
        opens, item = _OPENS.match(prev), _ITEM.match(line)
        if not opens:
            continue
        step = len(line) - len(line.lstrip(" ")) - len(opens.group(1))
        if item and step >= 0:
            offsets[step] += 1
        elif not item and step > 0:
            mappings[step] += 1
    mapping = mappings.most_common(1)[0][0] if mappings else 2
    offset = offsets.most_common(1)[0][0] if offsets else 0
    return Style(newline, mapping, offset + 2, offset, text.startswith(BOM), not body or body.endswith("\n"),
                 bool(lines) and lines[0].rstrip() == "---")


def _yaml(style: Style = Style()):
    from ruamel.yaml import YAML
    y = YAML()                   # round-trip: comments, order, quotes and flow style are kept
    y.preserve_quotes = True
    y.width = 1 << 30            # never re-wrap a long line of theirs
    y.indent(mapping=style.mapping, sequence=style.sequence, offset=style.offset)
    y.explicit_start = style.explicit_start
    return y


def _plain(text: str) -> str:
    """The text ruamel reads: no byte-order mark, LF line endings, a final newline (so that a last
    block scalar is read as `|`, not `|-`); dump puts theirs back."""
    plain = (text[1:] if text.startswith(BOM) else text).replace("\r\n", "\n")
    return plain + "\n" if plain and not plain.endswith("\n") else plain


def load(text: str, where: str = "data/.config.yaml"):
    """The user's file as a round-trip mapping; refuses what the toolkit cannot migrate."""
    from ruamel.yaml.error import YAMLError
    plain = _plain(text)
    try:
        data = _yaml(style_of(text)).load(plain)
    except YAMLError as exc:
        # Its words may quote a value of theirs (an alias, a key): the place only.
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"the toolkit cannot read this file as YAML{at}: a syntax error, a duplicate key or an "
                          "undefined alias", where=where,
                          hint="fix that line (the toolkit edits the file only when it can keep every line of "
                               "yours); nothing was changed") from None
    if data is None:  # only comments, or empty: keep the comments above whatever is added
        data = _yaml().load(plain.rstrip("\n") + ("\n" if plain.strip() else "") + "_placeholder: 1\n")
        del data["_placeholder"]
    if not hasattr(data, "keys"):
        raise ConfigError("the top level is not a mapping", where=where, hint="the server expects key: value pairs")
    manager = data.get("manager-api")
    if hasattr(manager, "get") and manager.get("url"):
        raise Refused("this data/.config.yaml takes its config from the web console (manager-api.url): the full "
                      "deployment is another target", where=f"{where}: manager-api.url",
                      hint="set migrate.target: xiaozhi-console (the full deployment: manager-api, MySQL, Redis); "
                           "nothing was changed")
    return data


def dump(data, like: str = "") -> str:
    """``data`` as text written in the style of ``like`` (their file as read): its indentation,
    sequence style, line endings, byte-order mark and final newline."""
    style = style_of(like) if like else Style()
    out = io.StringIO()
    _yaml(style).dump(data, out)
    text = out.getvalue()
    if not style.final_newline and text.endswith("\n"):
        text = text[:-1]
    return (BOM if style.bom else "") + text.replace("\n", style.newline)


def kept(before: str, after: str, owned_before: set[int] | None = None, where: str = "data/.config.yaml") -> str:
    """``after`` with every line of theirs exactly as in ``before``, or Refused (naming the line,
    never its content): the guard between a round trip and a write. Outside the keys the toolkit
    owns, ``after`` must hold the same lines in the same order; a line that ruamel rewrote only in
    its trailing spaces or line ending (or that gained the newline an entry added after it needs)
    is put back as they wrote it; any other change to a line of theirs refuses the write.
    ``owned_before``: the owned lines of ``before``, when its parse is at hand."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    owned_old = owned_lines(load(before, where)) if owned_before is None else owned_before
    owned_new = owned_lines(load(after, where))
    theirs_old = [(i, line) for i, line in enumerate(old) if i not in owned_old]
    theirs_new = [j for j in range(len(new)) if j not in owned_new]
    for n, (i, line) in enumerate(theirs_old):
        if n >= len(theirs_new) or new[theirs_new[n]].rstrip() != line.rstrip():
            raise Refused(f"writing the stage would change line {i + 1} of yours: the YAML library cannot write it "
                          "back as it is", where=where,
                          hint="write that line the usual way (one indentation throughout, `null` rather than `~`, "
                               "a value on its key's line, no `...`), then run again; nothing was changed")
        made = new[theirs_new[n]][len(new[theirs_new[n]].rstrip("\r\n")):]   # '' : the last line, as their style ends
        ending = (line[len(line.rstrip("\r\n")):] or made) if made else ""
        new[theirs_new[n]] = line.rstrip("\r\n") + ending     # theirs, to the last space and line ending
    if len(theirs_new) > len(theirs_old):
        raise Refused(f"writing the stage would add line {theirs_new[len(theirs_old)] + 1}, which is not the toolkit's",
                      where=where, hint="write the file's LLM and selected_module sections as blocks (not {...}); "
                                        "nothing was changed")
    return "".join(new)


def owned_lines(data) -> set[int]:
    """The lines (0-based) that hold what the toolkit owns: ``selected_module.LLM``, the references
    it may move, its own entries from their key to their last value, and a section header whose
    every key is the toolkit's (it may create the section)."""
    lines: set[int] = set()
    section = data.get("selected_module")
    if hasattr(section, "lc") and "LLM" in section:
        lines |= _span(section, "LLM")
        if list(section) == ["LLM"]:
            lines |= _span(data, "selected_module", header=True)
    for name, module, key in REFERENCES:
        node = (data.get(name) or {}).get(module) if hasattr(data.get(name), "get") else None
        if hasattr(node, "lc") and key in node:
            lines |= _span(node, key)
    entries = data.get("LLM")
    if hasattr(entries, "lc"):
        owned = [name for name in entries if str(name).startswith(OWNED_PREFIX)]
        for name in owned:
            lines |= _span(entries, name)
        if owned and len(owned) == len(entries):
            lines |= _span(data, "LLM", header=True)
    return lines


def _span(node, key, header: bool = False) -> set[int]:
    """The lines from ``key`` to the last line of its value (only the key's line: ``header``)."""
    first = node.lc.key(key)[0]
    return {first} if header else set(range(first, _last_line(node, key) + 1))


def _last_line(node, key) -> int:
    value = node[key]
    last = node.lc.value(key)[0] if node.lc.data.get(key) and len(node.lc.data[key]) > 2 else node.lc.key(key)[0]
    if hasattr(value, "lc") and hasattr(value, "keys") and len(value):
        return max(last, _last_line(value, list(value)[-1]))
    return last


def selected_llm(data) -> str | None:
    return (data.get("selected_module") or {}).get("LLM")


def select_llm(data, entry: str) -> None:
    """``selected_module.LLM: entry``; the section is created (at the end) when the file has none."""
    if data.get("selected_module") is None:
        data["selected_module"] = _yaml().load("{}\n")
    set_scalar(data["selected_module"], "LLM", entry)


def set_scalar(node, key: str, value: str) -> None:
    """``node[key] = value``, keeping the gap before a comment at the end of its line: ruamel keeps
    the comment's column, so a longer value and back would leave it further right than it was.
    A one-line ``{...}`` mapping is refused: its line holds keys of theirs that would be rewritten."""
    _block(node, key)
    old = node.get(key)
    node[key] = value
    token = (getattr(node, "ca", None) and node.ca.items.get(key) or [None] * 3)[2]
    if token is not None and isinstance(old, str) and token.column is not None:
        token.column = max(token.column - len(old) + len(value), 0)


def put_entry(data, name: str, fields: dict[str, Any]) -> None:
    """Add or replace an LLM entry the toolkit owns; an entry of theirs is never written."""
    _owned(name)
    if data.get("LLM") is None:
        data["LLM"] = _yaml().load("{}\n")
    _block(data["LLM"], "LLM")
    data["LLM"][name] = dict(fields)


def remove_entry(data, name: str) -> None:
    """Remove an entry the toolkit owns. Comment lines of theirs written after it (ruamel keeps
    them with the entry's last key) move to the node before it, so that they stay where they were."""
    _owned(name)
    entries = data.get("LLM")
    if entries is None or name not in entries:
        return
    keys = list(entries)
    trailing = _trailing_comment(entries[name])
    del entries[name]
    if not entries and not trailing:   # the toolkit made the section (their file had none): it goes too
        del data["LLM"]
        return
    index = keys.index(name)
    if trailing and index > 0:
        _append_comment(entries, keys[index - 1], trailing)
    elif trailing:   # it was the first entry: the comment goes after the section's key
        _append_comment(data, "LLM", trailing, after_key=True)


def _trailing_comment(entry) -> str:
    """The full comment lines after an entry's last line (not a comment at the end of that line,
    which is on the toolkit's own line and goes with it)."""
    if not (hasattr(entry, "ca") and hasattr(entry, "keys") and len(entry)):
        return ""
    last = list(entry)[-1]
    if hasattr(entry[last], "ca") and hasattr(entry[last], "keys") and len(entry[last]):
        return _trailing_comment(entry[last])
    token = (entry.ca.items.get(last) or [None] * 3)[2]
    if token is None or "\n" not in token.value:
        return ""
    return token.value.split("\n", 1)[1]


def _append_comment(node, key, lines: str, after_key: bool = False) -> None:
    from ruamel.yaml.tokens import CommentToken
    from ruamel.yaml.error import CommentMark
    value = node[key]
    if not after_key and hasattr(value, "ca") and hasattr(value, "keys") and len(value):
        return _append_comment(value, list(value)[-1], lines)
    slot = node.ca.items.setdefault(key, [None, None, None, None])
    if slot[2] is None:
        slot[2] = CommentToken("\n" + lines, CommentMark(0), None)
    else:
        slot[2].value = slot[2].value + lines


def retarget(data, old: str, new: str) -> list[str]:
    """Point the other places that name ``old`` (intent, memory) at ``new``; the dotted keys changed."""
    changed = []
    for section, module, key in REFERENCES:
        node = (data.get(section) or {}).get(module)
        if hasattr(node, "get") and node.get(key) == old:
            set_scalar(node, key, new)
            changed.append(f"{section}.{module}.{key}")
    return changed


def merged(defaults: dict, user: dict) -> dict:
    """What the server runs with: its built-in config.yaml deep-merged with the user's file, the
    user's file winning key by key (nested mappings merge; any other value replaces)."""
    out = dict(defaults)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def _block(node, key: str) -> None:
    if getattr(getattr(node, "fa", None), "flow_style", lambda: False)() and len(node):
        raise Refused(f"the mapping that holds {key} is written on one line ({{...}}): changing {key} would rewrite "
                      "your other keys on that line", where=f"data/.config.yaml: {key}",
                      hint="write that mapping as a block (one key per line), then run again; nothing was changed")


def _owned(name: str) -> None:
    if not name.startswith(OWNED_PREFIX):
        raise Refused(f"LLM entry {name!r} is not the toolkit's", where="data/.config.yaml: LLM",
                      hint=f"the toolkit writes only entries named {OWNED_PREFIX}...")
