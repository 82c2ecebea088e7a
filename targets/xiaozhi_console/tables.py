"""The console's rows as this target reads and writes them: the model configs (LLM, Intent,
Memory), the agents, the templates and the devices of manager-api's database. Writes are one
transaction, each row compare-and-swap on its before-image (locked as it is read): a row someone
changed in the console since the plan refuses the whole move and names the row, with nothing
written. After a commit, the model keys manager-api caches in Redis for a changed model config
are deleted, as manager-api does after its own edits (``model:data:{id}``, ``model:name:{id}``)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from adapters import mysql, rediscache
from core.errors import Refused
from engine.changes import RowsChange

MODELS, AGENTS, TEMPLATES, DEVICES = "ai_model_config", "ai_agent", "ai_agent_template", "ai_device"
KEY = "id"
CACHED = ("model:data:{}", "model:name:{}")   # manager-api's RedisKeys.getModelConfigById / getModelNameById


@dataclass(frozen=True)
class Tables:
    models: dict[str, dict] = field(repr=False)      # LLM, Intent and Memory model configs by id
    agents: dict[str, dict] = field(repr=False)
    templates: dict[str, dict] = field(repr=False)   # in manager-api's order: the first is the default
    devices: tuple[tuple[str, str], ...] = ()        # (mac address, agent id)

    @property
    def default_template(self) -> str | None:
        return next(iter(self.templates), None)


def read(session: mysql.Session) -> Tables:
    models = session.rows(f"SELECT * FROM {MODELS} WHERE model_type IN ('LLM', 'Intent', 'Memory') "
                          "ORDER BY sort, id")
    agents = session.rows(f"SELECT * FROM {AGENTS} ORDER BY id")
    templates = session.rows(f"SELECT * FROM {TEMPLATES} ORDER BY sort, id")   # getDefaultTemplate's order
    devices = session.rows(f"SELECT mac_address, agent_id FROM {DEVICES} WHERE mac_address IS NOT NULL ORDER BY id")
    return Tables({r[KEY]: r for r in models}, {r[KEY]: r for r in agents}, {r[KEY]: r for r in templates},
                  tuple((d["mac_address"], d["agent_id"]) for d in devices))


def llm_of(row: dict) -> str | None:
    """The ``llm`` an intent or memory model config names in its config_json (None: none)."""
    try:
        found = json.loads(row.get("config_json") or "null")
    except ValueError:
        return None
    value = found.get("llm") if isinstance(found, dict) else None
    return value if isinstance(value, str) else None


def with_llm(text: str, old: str, new: str) -> str:
    """config_json with its ``llm`` value replaced and every other byte kept (their spacing, their
    key order); the parsed result is checked."""
    data = json.loads(text)
    for quoted_old in (json.dumps(old), json.dumps(old, ensure_ascii=False)):
        at = text.find(quoted_old)
        while at != -1:
            candidate = text[:at] + json.dumps(new, ensure_ascii=False) + text[at + len(quoted_old):]
            try:
                if json.loads(candidate) == {**data, "llm": new}:
                    return candidate
            except ValueError:
                pass
            at = text.find(quoted_old, at + 1)
    return json.dumps({**data, "llm": new}, ensure_ascii=False)


def same(a: dict | None, b: dict | None) -> bool:
    """Two images of a row are the same row: equal column by column (a JSON column compared by
    its value: MySQL stores JSON normalised, MariaDB as written)."""
    if a is None or b is None:
        return a is b
    if a.keys() != b.keys():
        return False
    return all(_same_value(a[k], b[k]) for k in a)


def _same_value(x, y) -> bool:
    if x == y:
        return True
    if isinstance(x, str) and isinstance(y, str) and x[:1] in "{[" and y[:1] in "{[":
        try:   # by value, key order aside; true is not 1 (a plain == says it is)
            return json.dumps(json.loads(x), sort_keys=True) == json.dumps(json.loads(y), sort_keys=True)
        except ValueError:
            return False
    return False


def _put(session: mysql.Session, table: str, now: dict | None, want: dict | None) -> None:
    if want is None:
        session.delete(table, KEY, now[KEY])
    elif now is None:
        session.insert(table, want)
    else:
        changed = {k: v for k, v in want.items() if not _same_value(now.get(k), v)}
        if changed:
            session.update(table, KEY, now[KEY], changed)


def write(session: mysql.Session, sets, where: str, apply: bool = True) -> None:
    """Every set in one transaction, each row compare-and-swap on its before-image; a row that is
    already at its after-image is left (a move that stopped after its commit). Refused, with
    nothing written, naming the first row someone else changed. ``apply=False`` only compares
    (a check before the router starts)."""
    with session.transaction():
        for change in sets:
            found = session.locked(change.table, change.key, change.ids)
            for before, after in zip(change.before, change.after):
                row_id = (before if before is not None else after)[change.key]
                now = found.get(row_id)
                if same(now, after):
                    continue
                if not same(now, before):
                    raise Refused(f"row {row_id} of {change.table} changed since the plan (someone edited it, in the "
                                  "console or by hand): the transaction was rolled back, nothing was written",
                                  where=where, hint="run the same command again: it plans from the rows as they "
                                                    "are now (and shows what it would change)")
                if apply:
                    _put(session, change.table, now, after)


def restore(session: mysql.Session, change: RowsChange) -> list:
    """The before-images back, compare-and-swap on the after-images, in one transaction; the keys
    of rows changed since (left as they are)."""
    left = []
    with session.transaction():
        found = session.locked(change.table, change.key, change.ids)
        for before, after in zip(change.before, change.after):
            row_id = (before if before is not None else after)[change.key]
            now = found.get(row_id)
            if same(now, before):
                continue
            if not same(now, after):
                left.append(row_id)
                continue
            _put(session, change.table, now, before)
    return left


def cached_keys(sets) -> list[str]:
    """manager-api's cache keys of every model config the sets change."""
    return [pattern.format(i) for i in models_of(sets) for pattern in CACHED]


def models_of(sets) -> list[str]:
    return sorted({str(i) for change in sets if change.table == MODELS for i in change.ids})


def invalidate(cache: rediscache.Address, sets) -> int:
    return invalidate_ids(cache, models_of(sets))


def invalidate_ids(cache: rediscache.Address, ids) -> int:
    """Delete manager-api's cache of these model configs (as it does after its own edits)."""
    return rediscache.delete(cache, [pattern.format(i) for i in ids for pattern in CACHED])
