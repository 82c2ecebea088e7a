#!/usr/bin/env bash
# Removes what an interrupted test or benchmark run of this project may have left on the engine:
# every sandbox (sandbox*.yaml: one per target) and every Compose project named
# "${XZTEST_PROJECT_PREFIX:-xztest}-*" (the integration tests' own). A stack left up would hold
# xiaozhi-local-llm and the sandbox's ports, and the next run would refuse to start (as it should
# on a real host). Nothing else is touched: only those project names, found by Compose's label.
# CI's machine runs one CI at a time: a test session of the same prefix running beside it would lose
# its stacks (give it another XZTEST_PROJECT_PREFIX).
# Usage: bash scripts/clear-test-stacks.sh      (CI runs it before the tests)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
prefix="${XZTEST_PROJECT_PREFIX:-xztest}"
# Only a project name the tests make (endpoints.project(): PREFIX-6 hex digits, maybe -demo), with a
# plain prefix: never a pattern that could reach an operator's project (xiaozhi-server, say).
[[ "$prefix" =~ ^[a-z0-9]+$ ]] || { echo "clear: XZTEST_PROJECT_PREFIX must be letters and digits: $prefix" >&2; exit 2; }
ours="^${prefix}-[0-9a-f]{6}(-[a-z]+)?$"
docker="${DOCKER:-docker}"   # the tests give a stand-in
for config in sandbox*.yaml; do
  "${INVOKE:-invoke}" -f "$config" sandbox.down >/dev/null 2>&1 || echo "clear: sandbox.down of $config failed (continuing)"
done
label='{{.Label "com.docker.compose.project"}}'
projects=$($docker ps -a --filter label=com.docker.compose.project --format "$label"
           $docker network ls --filter label=com.docker.compose.project --format "$label"
           $docker volume ls --filter label=com.docker.compose.project --format "$label")
for project in $(printf '%s\n' "$projects" | grep -E "$ours" | sort -u); do
  filter="label=com.docker.compose.project=$project"
  ids=$($docker ps -aq --filter "$filter"); [ -z "$ids" ] || $docker rm -f $ids >/dev/null
  ids=$($docker network ls -q --filter "$filter"); [ -z "$ids" ] || $docker network rm $ids >/dev/null
  ids=$($docker volume ls -q --filter "$filter"); [ -z "$ids" ] || $docker volume rm -f $ids >/dev/null
  echo "clear: removed the test project $project"
done
# The fleet tests' sshd "hosts" (tests/integration/test_fleet.py labels them xzfleet).
ids=$($docker ps -aq --filter label=xzfleet); [ -z "$ids" ] || { $docker rm -f $ids >/dev/null; echo "clear: removed the fleet test hosts"; }
exit 0
