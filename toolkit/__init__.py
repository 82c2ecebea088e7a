"""Shared core of the migration toolkit: configuration, errors, and thin adapters over Docker,
the Compose CLI and the filesystem."""
import sys

# httpx imports its own command-line client (click, rich, pygments: ~80 ms) whenever those
# happen to be installed; nothing here uses it, and `invoke health` runs every few minutes.
sys.modules.setdefault("httpx._main", None)
