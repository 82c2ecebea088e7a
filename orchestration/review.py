"""The reviewable copies of every stage of both targets under compose/: the first target's
override and llm.env (deploy.review), and what each stage makes of the example server folder
(xiaozhi_server.review)."""
from __future__ import annotations

from pathlib import Path

from deploy import review
from xiaozhi_server import review as server_review


def write_all(out: str | Path, check: bool = False) -> list[Path]:
    """Paths that differ; with ``check`` nothing is written."""
    return review.write_all(out, check, {**review.expected(), **server_review.expected()})
