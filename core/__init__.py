"""Core, the bottom layer: configuration, errors, state, files, secrets and the Ollama store's
layout. Pure or filesystem-only; imports nothing of the toolkit above it."""
