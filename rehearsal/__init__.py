"""The rehearsal layer, on top of everything: the emulated stack (the sandbox) brought up as a
Compose project, and the demo that walks the whole migration on it. Production code never
imports it."""
