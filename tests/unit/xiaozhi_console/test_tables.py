"""The console's rows written compare-and-swap in one transaction, and put back the same way,
against an in-memory session that behaves as the adapter does (rows locked as read, a
transaction rolled back on any error)."""
import copy
from contextlib import contextmanager

import pytest

from core.errors import Refused
from engine.changes import RowsChange
from targets.xiaozhi_console import tables as t


class Session:
    def __init__(self, rows):
        self.rows, self.statements = rows, []

    @contextmanager
    def transaction(self):
        saved = copy.deepcopy(self.rows)
        try:
            yield self
        except BaseException:
            self.rows.clear()
            self.rows.update(saved)
            raise

    def locked(self, table, key, ids):
        return {i: dict(self.rows[table][i]) for i in ids if i in self.rows[table]}

    def update(self, table, key, row_id, values):
        self.statements.append(("update", table, row_id, sorted(values)))
        self.rows[table][row_id].update(values)

    def insert(self, table, row):
        self.statements.append(("insert", table, row["id"]))
        self.rows[table][row["id"]] = dict(row)

    def delete(self, table, key, row_id):
        self.statements.append(("delete", table, row_id))
        del self.rows[table][row_id]


def agents(*ids, llm="local"):
    return {i: {"id": i, "agent_name": i, "llm_model_id": llm} for i in ids}


def test_a_move_writes_only_the_changed_columns():
    session = Session({t.AGENTS: agents("a", "b")})
    before = tuple(session.rows[t.AGENTS].values())
    t.write(session, [RowsChange(t.AGENTS, "id", before, tuple({**r, "llm_model_id": "api"} for r in before))], "db")
    assert session.statements == [("update", t.AGENTS, "a", ["llm_model_id"]), ("update", t.AGENTS, "b", ["llm_model_id"])]


def test_a_row_edited_since_the_plan_refuses_the_whole_transaction_naming_it():
    rows = {t.AGENTS: agents("a", "b"), t.MODELS: {}}
    session = Session(rows)
    before = tuple(dict(r) for r in rows[t.AGENTS].values())
    rows[t.AGENTS]["b"]["agent_name"] = "renamed in the console"
    sets = [RowsChange(t.MODELS, "id", (None,), ({"id": "api", "model_type": "LLM"},)),
            RowsChange(t.AGENTS, "id", before, tuple({**r, "llm_model_id": "api"} for r in before))]
    snapshot = copy.deepcopy(rows)
    with pytest.raises(Refused) as refused:
        t.write(session, sets, "mysql://root@db:3306/x")
    assert "row b of ai_agent changed since the plan" in refused.value.what and "nothing was written" in refused.value.what
    assert rows == snapshot   # the model config inserted first and agent a were rolled back


def test_a_move_already_written_is_not_written_twice():
    session = Session({t.AGENTS: agents("a", llm="api")})
    t.write(session, [RowsChange(t.AGENTS, "id", (agents("a")["a"],), (agents("a", llm="api")["a"],))], "db")
    assert session.statements == []


def test_the_rollback_puts_back_what_is_at_its_after_image_and_names_what_is_not():
    rows = {t.AGENTS: agents("a", "b", "c", llm="api"), t.MODELS: {"api": {"id": "api", "v": 1}}}
    session = Session(rows)
    rows[t.AGENTS]["b"]["agent_name"] = "edited after the move"
    rows[t.AGENTS]["c"]["llm_model_id"] = "local"   # already back
    before = tuple(agents("a", "b", "c").values())
    after = tuple(agents("a", "b", "c", llm="api").values())
    assert t.restore(session, RowsChange(t.AGENTS, "id", before, after)) == ["b"]
    assert rows[t.AGENTS]["a"]["llm_model_id"] == "local" and rows[t.AGENTS]["b"]["llm_model_id"] == "api"
    assert t.restore(session, RowsChange(t.MODELS, "id", (None,), ({"id": "api", "v": 1},))) == []
    assert "api" not in rows[t.MODELS]   # a row the move created is removed


def test_a_created_row_that_someone_edited_is_not_removed():
    rows = {t.MODELS: {"api": {"id": "api", "v": 2}}}
    assert t.restore(Session(rows), RowsChange(t.MODELS, "id", (None,), ({"id": "api", "v": 1},))) == ["api"]
    assert rows[t.MODELS] == {"api": {"id": "api", "v": 2}}
