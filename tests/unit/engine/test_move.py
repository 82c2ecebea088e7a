"""The engine knows no kind of stack: a toy target whose "stack" is one JSON file goes through the
same move as the two real ones. Verified, its stage is recorded and the re-plan is empty; refused
by its verification, its file comes back byte for byte and the state says where it was; a move
that does not converge says so; a disk that cannot take the backup changes nothing."""
import datetime
import decimal
import json
from dataclasses import dataclass, field

import pytest
import yaml

from core import config, state
from core.errors import MigrationError, Refused, VerifyFailed
from engine import backup, move
from engine import changes
from engine.changes import FileChange, Restart, RowsChange

from ...conftest import ROOT

STACK = "stack.json"


@dataclass
class Plan:
    recorded: int | None
    new: str
    changed_files: list = field(default_factory=list)


class Toy:
    """A target in a dozen lines: the stage is the weights it writes into stack.json."""

    def __init__(self, settings, stage, *, healthy=True, converges=True):
        self.settings, self.stage, self.healthy, self.converges = settings, stage, healthy, converges
        self.calls = []

    @property
    def path(self):
        return self.settings.deploy_dir / STACK

    def plan(self):
        recorded = (state.read(self.settings.deploy_dir) or {}).get("stage")
        new = json.dumps({"weights": self.stage.weights}, indent=2) + "\n"
        current = self.path.read_text() if self.path.exists() else None
        return Plan(recorded, new, [STACK] if current != new else [])

    def changes(self, plan) -> tuple:
        return tuple(FileChange(name) for name in (STACK,))

    def audit(self, plan):
        return {"toy": True}

    def write(self, plan):
        self.calls.append("write")
        self.path.write_text(plan.new)

    def converge(self, plan, out):
        self.calls.append("converge")
        return 1.5

    def verify(self):
        self.calls.append("verify")
        return [] if self.healthy else ["toy: the stack does not answer"]

    def reapply(self, old_state, plan, out):
        self.calls.append("reapply")

    def applied(self, away):
        return {"away_s": away}

    def recorded(self, plan, old_state):
        return {"toy_weights": self.stage.weights}

    def replan(self):
        return self.plan() if self.converges else Plan(self.stage.number, "x", [STACK])

    def unconverged(self, plan):
        return bool(plan.changed_files)

    def describe(self, plan):
        return f"toy: {plan.changed_files}"

    def done(self, away):
        return f"toy stage {self.stage.number} verified, {away} s away"


@pytest.fixture
def settings(tmp_path):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    tmp_path.chmod(0o700)
    return config.load(data, env={"QWEN_API_KEY": "sk-toy-0123456789"})


def audit(d):
    return [entry["event"] for entry in state.audit_tail(d, 100)]


def test_a_verified_move_is_recorded_and_converged(settings):
    toy, out = Toy(settings, settings.stage(1)), []
    move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=out.append)
    d = settings.deploy_dir
    recorded = state.read(d)
    assert recorded["stage"] == 1 and recorded["toy_weights"] == "qwen:25,local:30" and "pending" not in recorded
    assert toy.calls == ["write", "converge", "verify"] and out == ["toy stage 1 verified, 1.5 s away"]
    assert audit(d)[-2:] == ["apply-start", "applied"]
    assert len([p for p in (d / backup.ROOT).iterdir() if backup.STAMP.match(p.name)]) == 1


def test_a_failed_verification_puts_the_stack_back_byte_for_byte(settings):
    d = settings.deploy_dir
    (d / STACK).write_bytes(b'{"weights": "theirs"}\r\n')   # their bytes, CRLF
    state.write(d, stage=0, since=1.0)
    toy = Toy(settings, settings.stage(1), healthy=False)
    with pytest.raises(VerifyFailed) as err:
        move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=lambda *_: None)
    assert err.value.what == "stage 1 failed and was rolled back" and "does not answer" in err.value.detail
    assert (d / STACK).read_bytes() == b'{"weights": "theirs"}\r\n'
    assert toy.calls == ["write", "converge", "verify", "reapply"]
    assert state.read(d)["stage"] == 0 and "pending" not in state.read(d) and audit(d)[-1] == "rolled-back"


def test_a_move_that_does_not_converge_says_so(settings):
    toy = Toy(settings, settings.stage(1), converges=False)
    with pytest.raises(MigrationError, match="still not converged") as err:
        move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=lambda *_: None)
    assert "toy: ['stack.json']" in err.value.detail


def test_a_backup_that_cannot_be_taken_changes_nothing(settings, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(backup, "save", full)
    toy = Toy(settings, settings.stage(1))
    with pytest.raises(MigrationError, match="cannot prepare the change: No space left on device"):
        move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=lambda *_: None)
    assert toy.calls == [] and not (settings.deploy_dir / STACK).exists() and state.read(settings.deploy_dir) is None


def test_the_engine_names_no_kind_of_stack():
    for path in (ROOT / "engine").glob("*.py"):
        text = path.read_text()
        for word in ("compose-env", "xiaozhi-server", "xiaozhi_server", "llm-service", "deploy.", "targets.", "docker"):
            assert word not in text, f"{path.name} names {word}"


# --- a target that changes rows, not files: the engine backs them up and has them put back -----

class Rows(Toy):
    """The toy whose stage also moves agents in a "database" (a dict here), compare-and-swap:
    what the console does to a row between the plan and the write (``edit``) is never overwritten."""

    def __init__(self, settings, stage, table, *, edit=None, **kw):
        super().__init__(settings, stage, **kw)
        self.table, self.edit = table, edit

    def plan(self):
        plan = super().plan()
        before = tuple(dict(r) for r in self.table.values() if r["model"] == "local")
        plan.rows = RowsChange("ai_agent", "id", before, tuple({**r, "model": "api"} for r in before))
        return plan

    def changes(self, plan):
        return super().changes(plan) + (plan.rows,)

    def _swap(self, expect, put):
        for old, new in zip(expect, put):
            if self.table.get(old["id"]) not in (old, new):
                raise Refused(f"row {old['id']} of ai_agent changed since the plan: nothing was written")
        for new in put:
            self.table[new["id"]] = dict(new)

    def write(self, plan):
        if self.edit:
            self.table.update(self.edit)
        self._swap(plan.rows.before, plan.rows.after)
        super().write(plan)

    def restore_rows(self, change):
        self.calls.append("restore_rows")
        left = [old["id"] for old, new in zip(change.after, change.before) if self.table[old["id"]] not in (old, new)]
        for new in change.before:
            if new["id"] not in left:
                self.table[new["id"]] = dict(new)
        return left


AGENTS = {"a1": {"id": "a1", "model": "local", "name": "厨房"}, "a2": {"id": "a2", "model": "local", "name": "door"},
          "b": {"id": "b", "model": "their-own", "name": "theirs"}}


@pytest.mark.parametrize("healthy, edit, rows_after, calls, says, restored", [
    # verified: the rows moved, the backup holds both images
    (True, None, {"a1": "api", "a2": "api", "b": "their-own"}, ["write", "converge", "verify"], None, None),
    # refused by verification: the rows come back as they were
    (False, None, {"a1": "local", "a2": "local", "b": "their-own"},
     ["write", "converge", "verify", "restore_rows", "reapply"], "does not answer", "restored 2 row(s) of ai_agent"),
], ids=["verified", "verification-fails"])
def test_rows_are_backed_up_and_put_back_by_the_engine(settings, healthy, edit, rows_after, calls, says, restored):
    table = {k: dict(v) for k, v in AGENTS.items()}
    toy = Rows(settings, settings.stage(1), table, edit=edit, healthy=healthy)
    out = []
    run = lambda: move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False,  # noqa: E731
                             out=out.append)
    if says is None:
        run()
    else:
        with pytest.raises(VerifyFailed) as err:
            run()
        assert says in err.value.detail and "only in part" not in err.value.what
        assert restored in out, out
    assert {k: r["model"] for k, r in table.items()} == rows_after and toy.calls == calls
    assert table["b"] == AGENTS["b"]
    saved = backup.ours(settings.deploy_dir / backup.ROOT)[-1]
    held = backup.saved_rows(saved)
    assert [r["model"] for r in held[0].before] == ["local", "local"] and held[0].table == "ai_agent"


def test_rows_whose_backup_was_altered_are_not_put_back_and_it_is_said(settings, monkeypatch):
    table = {k: dict(v) for k, v in AGENTS.items()}
    toy = Rows(settings, settings.stage(1), table, healthy=False)
    real = backup.save

    def save_then_tamper(*args, **kwargs):
        saved = real(*args, **kwargs)
        held = next((saved / backup.ROWS).iterdir())
        held.write_text(held.read_text().replace('"local"', '"api"'))
        return saved
    monkeypatch.setattr(backup, "save", save_then_tamper)
    with pytest.raises(VerifyFailed) as err:
        move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=lambda *_: None)
    assert "only in part" in err.value.what and "altered copy of the rows of ai_agent" in err.value.what
    assert "restore_rows" not in toy.calls and {r["model"] for r in table.values()} == {"api", "their-own"}


@pytest.mark.parametrize("before, after", [
    (({"id": "a"},), ({"id": "b"},)),          # not the same rows
    (({"model": "x"},), ({"model": "y"},)),    # no key column
    ((None,), (None,)),                        # a pair with no row on either side
    (({"id": "a"}, None), ({"id": "a"},)),     # not pairwise
])
def test_a_rows_change_must_name_the_same_rows_by_their_key(before, after):
    with pytest.raises(ValueError):
        RowsChange("ai_agent", "id", before, after)


def test_a_rows_change_names_rows_it_creates_and_removes():
    change = RowsChange("ai_model_config", "id", (None, {"id": "old", "v": 1}, {"id": "kept", "v": 1}),
                        ({"id": "new", "v": 2}, None, {"id": "kept", "v": 2}))
    assert change.ids == ["new", "old", "kept"]


def test_a_rows_change_never_shows_its_rows():
    assert "sk-" not in repr(RowsChange("ai_model_config", "id", ({"id": 1, "api_key": "sk-secret"},),
                                        ({"id": 1, "api_key": "sk-other"},)))


def test_the_pending_mark_and_the_audit_say_what_the_move_changes(settings):
    """A move stopped half-way (here: seen from inside its converge step) says in the state file
    what it was changing, and `invoke status` words it, whatever the target."""
    seen = {}

    class Stopped(Rows):
        def changes(self, plan):
            return super().changes(plan) + (Restart("llm", "recreate"),)

        def converge(self, plan, out):
            seen.update(state.read(self.settings.deploy_dir)["pending"])
            return super().converge(plan, out)
    toy = Stopped(settings, settings.stage(1), {k: dict(v) for k, v in AGENTS.items()})
    move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=lambda *_: None)
    held = {"files": [STACK], "rows": {"ai_agent": ["a1", "a2"]}, "containers": {"llm": "recreate"}}
    assert seen["changes"] == held and seen["to"] == 1
    start = [e for e in state.audit_tail(settings.deploy_dir, 5) if e["event"] == "apply-start"][-1]
    assert start["changes"] == held and "厨房" not in json.dumps(start, ensure_ascii=False)   # no row's contents
    assert changes.pending_line(seen).startswith(
        "PENDING: a run to stage 1 started ") and "(it was changing: files stack.json; rows a1, a2 of ai_agent; " \
        "recreate llm): run `invoke phase --stage 1` to converge" in changes.pending_line(seen)


@pytest.mark.parametrize("mark, says", [
    ({"to": 2, "started": "t"}, "PENDING: a run to stage 2 started t did not finish: run `invoke phase --stage 2` to converge"),
    ({"to": 2, "started": "t", "changes": {"files": [], "rows": {}, "containers": {}}},
     "PENDING: a run to stage 2 started t did not finish: run `invoke phase --stage 2` to converge"),
    ({"to": 3, "started": "t", "changes": {"files": ["a", "b"], "rows": {}, "containers": {"x": "remove"}}},
     "PENDING: a run to stage 3 started t did not finish (it was changing: files a, b; remove x): "
     "run `invoke phase --stage 3` to converge"),
], ids=["an-older-mark", "nothing-listed", "files-and-a-container"])
def test_a_pending_mark_in_words(mark, says):
    assert changes.pending_line(mark) == says


def test_a_row_edited_in_the_console_since_the_plan_is_refused_and_nothing_restarts(settings):
    """Someone edits an agent between the plan and the write: the target's compare-and-swap
    refuses before writing anything; the engine takes its mark back and raises the refusal (exit
    2), with no rollback and no restart: the running stack never saw a change."""
    table = {k: dict(v) for k, v in AGENTS.items()}
    state.write(settings.deploy_dir, stage=0, since=1.0)
    toy = Rows(settings, settings.stage(1), table, edit={"a2": {"id": "a2", "model": "deepseek", "name": "door"}})
    out = []
    with pytest.raises(Refused, match="row a2 of ai_agent changed since the plan") as err:
        move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=out.append)
    assert err.value.exit_code == 2 and toy.calls == []   # no write, no converge, no restore, no reapply
    assert {k: r["model"] for k, r in table.items()} == {"a1": "local", "a2": "deepseek", "b": "their-own"}
    after = state.read(settings.deploy_dir)
    assert not (settings.deploy_dir / STACK).exists() and after["stage"] == 0 and "pending" not in after
    assert audit(settings.deploy_dir)[-2:] == ["apply-start", "refused"]


def test_a_target_that_lists_rows_but_cannot_put_them_back_is_refused_before_anything(settings):
    class NoRestore(Rows):
        restore_rows = None
    toy = NoRestore(settings, settings.stage(1), {k: dict(v) for k, v in AGENTS.items()})
    with pytest.raises(MigrationError, match="change rows but cannot put them back"):
        move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=lambda *_: None)
    assert toy.calls == [] and state.read(settings.deploy_dir) is None


@pytest.mark.parametrize("fails", [OSError(5, "Input/output error"), RuntimeError("the database went away"), None],
                         ids=["os-error", "database-error", "returns-none"])
def test_a_row_restore_that_breaks_is_said_and_the_rest_of_the_rollback_still_runs(settings, fails):
    class Breaks(Rows):
        def restore_rows(self, change):
            self.calls.append("restore_rows")
            if fails is not None:
                raise fails
    toy = Breaks(settings, settings.stage(1), {k: dict(v) for k, v in AGENTS.items()}, healthy=False)
    with pytest.raises(VerifyFailed) as err:
        move.apply(settings, settings.stage(1), move.Outcome(toy.plan()), toy, force=False, out=lambda *_: None)
    assert toy.calls[-1] == "reapply" and "pending" not in state.read(settings.deploy_dir)
    assert ("only in part" in err.value.what) is (fails is not None)


def test_two_sets_of_one_table_are_both_kept_and_put_back_last_first(settings):
    first = RowsChange("ai_agent", "id", ({"id": "a", "m": 1},), ({"id": "a", "m": 2},))
    second = RowsChange("ai_agent", "id", ({"id": "b", "m": 1},), ({"id": "b", "m": 2},))
    saved = backup.save(settings.deploy_dir, 3, (), rows=(first, second))
    assert backup.saved_rows(saved) == (first, second)
    assert changes.summary((first, second))["rows"] == {"ai_agent": ["a", "b"]}


@pytest.mark.parametrize("value", [datetime.datetime(2026, 1, 1), decimal.Decimal("0.7"), b"x", ("a", "b")],
                         ids=["datetime", "decimal", "bytes", "tuple"])
def test_a_row_value_the_backup_would_change_is_refused_when_the_change_is_made(value):
    with pytest.raises(ValueError, match="JSON values only"):
        RowsChange("ai_model_config", "id", ({"id": 1, "v": value},), ({"id": 1, "v": value},))
