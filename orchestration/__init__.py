"""Orchestration, above checks, deploy and decommission: a stage move from start to end
(move.py) through the kind of stack being migrated (targets.py)."""
