"""The second kind of stack (``migrate.target: xiaozhi-server``): the upstream
xiaozhi-esp32-server, whose one LLM is picked in data/.config.yaml; a weighted split needs a
router in front of it (the LiteLLM proxy). It builds on deploy/'s machinery; orchestration above it."""
