"""Shared core of the migration toolkit: configuration, errors, and thin adapters over Docker,
the Compose CLI, HTTP and the filesystem."""
