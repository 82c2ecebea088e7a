"""Jinja as every template of the toolkit is rendered: strict about undefined names, no
escaping, and two filters for the files Compose and env files read."""
from __future__ import annotations

import json
from pathlib import Path

import jinja2

from core import envfile


def environment(templates: Path, compose_file: bool = True) -> jinja2.Environment:
    """Jinja as every template here is rendered. ``compose_file``: the output is a file Compose
    reads, which interpolates `$` (`$$` is its literal dollar); other readers (LiteLLM) take `$`
    as it is."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    # JSON is valid YAML flow syntax; unlike Jinja's tojson it keeps quotes and CJK readable.
    dollar = "$$" if compose_file else "$"
    env.filters["yaml"] = lambda value: json.dumps(
        list(value) if isinstance(value, tuple) else value, ensure_ascii=False).replace("$", dollar)
    env.filters["env"] = lambda value: envfile.quote(str(value))
    return env

