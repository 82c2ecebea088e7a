"""What `invoke status --json` tells a machine (a fleet rollout, issue 25): the toolkit's version,
the target, the recorded stage and since when, a move that stopped half-way, and the newest health
record. Read only; no key, no file content."""
from __future__ import annotations

from checks import history
from core import state, version
from core.config import Settings


def status(settings: Settings) -> dict:
    st = state.read(settings.deploy_dir) or {}
    last = history.last(settings.history_path)
    pending = st.get("pending")
    return {"toolkit": version.toolkit(), "target": settings.target, "deploy_dir": str(settings.deploy_dir),
            "stage": st.get("stage"), "since": st.get("since"), "applied": st.get("applied"),
            "pending": {"to": pending.get("to"), "started": pending.get("started")} if isinstance(pending, dict) else None,
            "last_health": {"time": last.get("time"), "stage": last.get("stage"), "status": last.get("status")}
            if last else None}
