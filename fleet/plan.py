"""A fleet rollout's plan (issue 25), pure: (inventory, what each host said of itself, the stage)
-> which hosts move in which batch, the canary first; which are there already; which cannot move
and why (each counts as a failure, never skipped silently); and what refuses the whole rollout."""
from __future__ import annotations

from dataclasses import dataclass, field

from fleet.inventory import Inventory


@dataclass(frozen=True)
class HostNow:
    """A host as its toolkit described itself (`invoke status --json`), or why it could not."""
    name: str
    problem: str = ""            # unreachable, refused host key, ... ("" : it answered)
    version: str = ""            # the toolkit's version there
    target: str = ""
    stage: int | None = None     # its recorded stage (None: never moved)
    pending: dict | None = None  # a move there that stopped half-way
    since: float | None = None   # when it reached its stage (epoch)
    last_health: dict | None = None  # its last recorded `invoke health`: status, time


@dataclass
class Rollout:
    stage: int
    version: str
    batches: list[list[str]]                                   # the canary's first
    canary: list[str]
    there: list[str] = field(default_factory=list)             # at the stage already
    blocked: dict[str, str] = field(default_factory=dict)      # host -> why it cannot move (a failure)
    refusals: list[str] = field(default_factory=list)          # the whole rollout is refused
    now: dict[str, HostNow] = field(default_factory=dict)
    regate: list[str] = field(default_factory=list)            # at the stage, but its health gate failed there

    @property
    def nothing_to_do(self) -> bool:
        return not self.batches and not self.blocked and not self.regate


GATE_FAILED = "health gate failed"   # the record's outcome of a host that moved, then failed its gate


def make(inventory: Inventory, stage: int, now: dict[str, HostNow], version: str, *, backward: bool = False,
         outcomes: dict[str, dict] | None = None) -> Rollout:
    """``backward``: a fleet rollback (each host goes back to ``stage``, never forward);
    ``outcomes``: the record's last outcome of each host (a host whose health gate failed at this
    stage is gated again before any other host moves)."""
    blocked, there, moving, regate = {}, [], [], []
    for name in inventory.hosts:
        host = now.get(name) or HostNow(name, problem="not asked")
        last = (outcomes or {}).get(name) or {}
        if host.problem:
            blocked[name] = host.problem
        elif host.pending:
            blocked[name] = (f"a move to stage {host.pending.get('to')} stopped half-way there: run "
                             f"`invoke phase --stage {host.pending.get('to')}` on it (or `invoke status` to see it)")
        elif host.stage == stage:
            (regate if last.get("result") == GATE_FAILED and last.get("stage") == stage else there).append(name)
        elif backward and (host.stage is None or host.stage < stage):
            blocked[name] = (f"it is at stage {'?' if host.stage is None else host.stage}: a rollback never moves a "
                             f"host forward (use fleet.phase)")
        elif not backward and host.stage is not None and host.stage > stage:
            blocked[name] = f"it is at stage {host.stage}, past {stage}: use fleet.rollback --to {stage}"
        else:
            moving.append(name)
    refusals = [f"{name} runs toolkit {h.version or '(unknown)'}, this one is {version}: install the same version "
                "on every host first" for name, h in now.items() if not h.problem and h.version != version]
    lost = [name for name in inventory.canary if name in blocked]
    if lost:
        refusals.append(f"the canary {', '.join(lost)} cannot move: no host moves before its canary")
    if blocked and len(blocked) >= inventory.stop_after and (moving or regate):
        refusals.append(f"{len(blocked)} host(s) cannot move and the failure budget (stop_after) is "
                        f"{inventory.stop_after}: fix them, or take them out of the inventory, first")
    canary = [name for name in inventory.canary if name in moving]
    rest = [name for name in moving if name not in canary]
    size = inventory.batch_size(len([n for n in inventory.hosts if n not in inventory.canary]))
    batches = ([canary] if canary else []) + [rest[i:i + size] for i in range(0, len(rest), size)]
    return Rollout(stage, version, batches, canary, there, blocked, refusals, dict(now), regate)


def label(rollout: Rollout, i: int) -> str:
    """The name of the rollout's i-th group of hosts: the canary (first, when there is one), then
    batch 1, 2, ..."""
    return "canary" if i == 0 and rollout.canary else f"batch {i + (0 if rollout.canary else 1)}"


def describe(rollout: Rollout) -> str:
    lines = [f"fleet -> stage {rollout.stage} (toolkit {rollout.version}):"]
    for name, host in rollout.now.items():
        at = "?" if host.stage is None else host.stage
        lines.append(f"  {name}: " + (f"cannot move: {rollout.blocked[name]}" if name in rollout.blocked
                                      else f"{host.target} at stage {at}"
                                      + (" (there already)" if name in rollout.there else "")
                                      + (" (its health gate failed there: gated again first)"
                                         if name in rollout.regate else "")))
    for i, batch in enumerate(rollout.batches):
        lines.append(f"  {label(rollout, i)}: {', '.join(batch)}")
    if rollout.regate:
        lines.append(f"  gated again before any host moves: {', '.join(rollout.regate)}")
    if rollout.blocked:
        lines.append(f"  {len(rollout.blocked)} host(s) cannot move: each counts as a failure")
    for refusal in rollout.refusals:
        lines.append(f"  refused: {refusal}")
    if rollout.nothing_to_do and not rollout.refusals:
        lines.append(f"  every host is at stage {rollout.stage}: nothing to do")
    return "\n".join(lines)
