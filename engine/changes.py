"""What a stage changes, as typed items the engine backs up and puts back, whatever the stack:

- ``FileChange``: a file of the deploy directory. Its before-image is the file, byte for byte,
  with its mode (engine/backup.py); the rollback puts it back, or removes it when the stage
  created it.
- ``Restart``: a container the stage restarts, recreates, creates or removes so that the stack
  takes what was written. It has no before-image: on a failure the target's ``reapply`` runs it
  again on what was put back.
- ``RowsChange``: rows of a table, keyed by one column. The plan carries each row's
  before-image (as the plan read it) and after-image (as the stage writes it), column by column,
  pairwise; ``None`` on one side is a row the stage creates (no before-image) or removes (no
  after-image). The backup keeps both; the target writes them compare-and-swap (a row someone
  changed since the plan is refused, naming it), and the rollback has the target put the
  before-images back, compare-and-swap on the after-images.

A target lists them in ``Steps.changes(plan)``; the engine needs nothing else to back up, mark
pending, roll back and re-plan. The audit log's apply-start entry and the pending mark carry their
``summary``, so that a move stopped half-way says what it was changing."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Union


@dataclass(frozen=True)
class FileChange:
    name: str      # relative to the deploy directory


@dataclass(frozen=True)
class Restart:
    name: str                  # the container (or Compose service) as the stack names it
    action: str = "restart"    # restart, recreate, create or remove


@dataclass(frozen=True)
class RowsChange:
    table: str
    key: str                                               # the column that names a row
    before: tuple[Mapping[str, Any], ...] = field(repr=False)   # rows may hold a key: never shown
    after: tuple[Mapping[str, Any], ...] = field(repr=False)

    def __post_init__(self):
        images = [dict(row) for row in (*self.before, *self.after) if row is not None]
        try:
            same = json.loads(json.dumps(images)) == images
        except (TypeError, ValueError):
            same = False
        if not same:   # the backup keeps them as JSON: a value it would change could not be compared back
            raise ValueError(f"the rows of {self.table} must hold JSON values only (text, numbers, true/false, "
                             "null, lists, mappings): convert dates and decimals to text first")
        if any(row.get(self.key) is None for row in images):
            raise ValueError(f"every row of {self.table} must have its key column {self.key}")
        if len(self.before) != len(self.after) or any(
                b is None and a is None or (b is not None and a is not None and str(b[self.key]) != str(a[self.key]))
                for b, a in zip(self.before, self.after)):
            raise ValueError(f"the before- and after-images of {self.table} must name the same rows, pairwise "
                             "(None on one side only: a row created or removed)")

    @property
    def ids(self) -> list:
        return [(b if b is not None else a)[self.key] for b, a in zip(self.before, self.after)]


Change = Union[FileChange, RowsChange, Restart]


def files(changes) -> tuple[str, ...]:
    return tuple(c.name for c in changes if isinstance(c, FileChange))


def rows(changes) -> tuple[RowsChange, ...]:
    return tuple(c for c in changes if isinstance(c, RowsChange))


def summary(changes) -> dict:
    """What a move changes, as the audit log and the pending mark keep it (no row's contents)."""
    return {"files": list(files(changes)),
            "rows": _ids_by_table(rows(changes)),
            "containers": {c.name: c.action for c in changes if isinstance(c, Restart)}}


def _ids_by_table(sets) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for change in sets:
        found.setdefault(change.table, []).extend(str(i) for i in change.ids)
    return found


def words(held: dict | None) -> str:
    """A summary in words ('' when there is none: a mark an older toolkit wrote)."""
    if not held:
        return ""
    parts = ([f"files {', '.join(held['files'])}"] if held.get("files") else []) + \
        [f"rows {', '.join(ids)} of {table}" for table, ids in (held.get("rows") or {}).items()] + \
        [f"{action} {name}" for name, action in (held.get("containers") or {}).items()]
    return "; ".join(parts)


def pending_line(pending: dict) -> str:
    """`invoke status` on a move that stopped half-way (any target)."""
    doing = words(pending.get("changes"))
    return (f"PENDING: a run to stage {pending.get('to')} started {pending.get('started')} did not finish"
            + (f" (it was changing: {doing})" if doing else "")
            + f": run `invoke phase --stage {pending.get('to')}` to converge")
