#!/usr/bin/env bash
# Runs every benchmark and prints the figures: a report, never a pass/fail gate.
# Needs the sandbox image; brings the sandbox up for the duration and takes it down again.
set -u
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
echo "== load generator accuracy (issue 6)"
python benchmarks/bench_accuracy.py
invoke -f sandbox.yaml sandbox.up >/dev/null || { echo "sandbox.up failed: no stack benchmarks"; exit 0; }
invoke -f sandbox.yaml phase --stage 1 --yes >/dev/null
echo "== health speed and footprint (issue 3)"
python benchmarks/health_speed.py
echo "== no-change phase (issue 4)"
python benchmarks/phase_noop.py
echo "== disruption of a stage move under load, llm-service replaced start-first (issues 10, 24)"
python benchmarks/move_disruption.py
echo "== the outage plan: from the API failing at stage 3 to every chat on the local model (issue 26)"
python benchmarks/outage.py
invoke -f sandbox.yaml sandbox.down >/dev/null
echo "== the same with llm-service publishing its own port (the older shape: recreated stop-first)"
python benchmarks/move_disruption.py --shape published
echo "== devices talking while the xiaozhi-server target moves 0 -> 3, its server starting in 20 s (issue 24)"
python benchmarks/device_sessions.py
