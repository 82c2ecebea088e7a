"""Every kind of stack the toolkit moves, one package each (core/registry.py names them). A
target implements orchestration/targets.py's protocol over the engine; no target imports
another."""
