"""The env-file format Compose reads (compose-go's dotenv), for the files this toolkit writes.

``quote`` writes a value so that Compose reads it back byte for byte: plain when it holds only
characters no parser treats specially, else single-quoted (literal: no ``$`` interpolation, no
``#`` comment, no escapes), else (it holds a ``'``) double-quoted with ``\\``, ``"`` and ``$``
escaped. ``parse`` reads those forms back. Control characters cannot be written at all: a
newline would start a second variable."""
from __future__ import annotations

import re

ENV_FILE = "llm.env"  # the llm-service's environment; it holds the API key (mode 0600)

_PLAIN = re.compile(r"^[A-Za-z0-9_./:,@+=%-]*$")
_UNESCAPE = re.compile(r"\\([\\\"$])")


def control_character(value: str) -> int | None:
    """The 1-based position of the first control or non-printable character, else None."""
    for i, ch in enumerate(value, 1):
        if not ch.isprintable():
            return i
    return None


def quote(value: str) -> str:
    position = control_character(value)
    if position is not None:
        raise ValueError(f"character {position} is a control or non-printable character")
    if _PLAIN.match(value):
        return value
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def parse(text: str) -> dict[str, str]:
    """NAME=value lines in the forms ``quote`` writes; comments and blank lines skipped."""
    out = {}
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        name, _, value = stripped.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = _UNESCAPE.sub(r"\1", value[1:-1])
        out[name.strip()] = value
    return out


_ASSIGNMENT = r"^[ \t]*(?:export[ \t]+)?{name}[ \t]*=[^\r\n]*"


def set_variable(text: str, name: str, value: str) -> str:
    """``text`` (an env file, perhaps the operator's .env) with ``name`` set to ``value``: each
    line assigning it is replaced, every other line (comments, order, their variables) kept
    byte for byte (CRLF kept); when none does, one line is appended with the file's line ending."""
    line = f"{name}={quote(value)}"
    pattern = re.compile(_ASSIGNMENT.format(name=re.escape(name)), re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: line, text)
    newline = "\r\n" if "\r\n" in text and text.count("\r\n") == text.count("\n") else "\n"   # theirs
    return text + ("" if not text or text.endswith("\n") else newline) + line + newline
