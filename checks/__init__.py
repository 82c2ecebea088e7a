"""Probes and judges the stack's health: what is observed (probes.py, I/O) is kept apart from
what it means at a stage (judge.py, pure), and from how it is shown (report.py)."""
