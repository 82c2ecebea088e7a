"""The emulated xiaozhi stack: Ollama and DashScope emulators, the weighted llm-service and
idle VAD/ASR/TTS stand-ins. Standard library only, so it runs in a bare python3 image."""
