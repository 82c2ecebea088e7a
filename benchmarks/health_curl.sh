#!/usr/bin/env bash
# The baseline `invoke health` is measured against: the same probes as a plain bash + curl
# script, one after another, as an operator would write it by hand.
# Usage: health_curl.sh LOCAL_URL API_URL KEY MODEL API_MODEL CONTAINER
set -u
local_url=$1 api_url=$2 key=$3 model=$4 api_model=$5 container=$6
t=3
curl -s -m $t -o /dev/null "$local_url/" || echo "local: refused"
curl -s -m $t "$local_url/api/version" >/dev/null
curl -s -m $t "$local_url/api/tags" | grep -q "\"$model\"" || echo "local: model missing"
curl -s -m $t -o /dev/null -w 'local first byte %{time_starttransfer}\n' -X POST "$local_url/api/generate" \
  -d "{\"model\":\"$model\",\"prompt\":\"hi\",\"options\":{\"num_predict\":1}}"
curl -s -m $t -o /dev/null -w 'api models %{http_code}\n' -H "Authorization: Bearer $key" "$api_url/models"
curl -s -m $t -o /dev/null -w 'api first byte %{time_starttransfer}\n' -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d "{\"model\":\"$api_model\",\"stream\":true,\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
  "$api_url/chat/completions"
docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$container" >/dev/null
docker ps --format '{{.Names}} {{.Status}}' >/dev/null
free -m >/dev/null; df -h / >/dev/null; cat /proc/loadavg >/dev/null
ss -ltnp 2>/dev/null | grep -q ':11434 ' || true
