"""Adapters over the world outside: the Compose CLI, the Docker Engine (SDK for writes, a
read-only reader for health) and HTTP. Import only core."""
