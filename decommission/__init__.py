"""Decommissioning the local LLM: drain, Ollama-aware model removal, quarantine and restore."""
