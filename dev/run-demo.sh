#!/usr/bin/env bash
# `make demo`: the whole pipeline on the local stack, in a few minutes, leaving nothing running.
#
#   local stack up (dev/stack-guard.sh: a service that was already running stays running)
#   -> demo topics and schema emptied (dev/demo_reset.py) -> `sessionizer migrate`
#   -> `sessionizer worker` in the background (its sink in a child process; log: .dev/demo/worker.log)
#   -> `sessionizer simulate` DEMO_SESSIONS sessions to .dev/demo/events.jsonl -> `produce` it
#   -> wait until drained (python -m streams.pipeline_drain) -> report (dev/demo_report.sql)
#   -> `sessionizer check` the table against the file -> worker stopped -> stack down
#      (only what this run started).
#
# The demo uses its own names (topics demo.*, schema demo, app id demo-sessionizer), so it
# never mixes with other data on a shared stack. Knobs: DEMO_SESSIONS (2000), DEMO_SEED (7),
# DEMO_WEB_PORT (6167, the demo worker's /metrics port).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=dev/stack-guard.sh
. dev/stack-guard.sh
PY=.venv/bin/python
DEMO_DIR=.dev/demo
SESSIONS=${DEMO_SESSIONS:-2000}
SEED=${DEMO_SEED:-7}
started_at=$(date +%s)
worker_pid=""

say() { printf '== [%3ss] %s\n' "$(($(date +%s) - started_at))" "$*" >&2; }

stop_worker() {
  if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
    say "stopping the worker (pid $worker_pid)"
    kill -TERM "$worker_pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$worker_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
  fi
  worker_pid=""
}

cleanup() {
  local status=$?
  stop_worker
  stack_down_if_started
  if [ "$status" != 0 ]; then
    say "demo FAILED (exit $status); worker log: $DEMO_DIR/worker.log"
  fi
}

mkdir -p "$DEMO_DIR"
export SESSIONIZER_RAW_TOPIC=demo.events.raw
export SESSIONIZER_SESSIONS_TOPIC=demo.sessions.batches
export SESSIONIZER_DLQ_TOPIC=demo.events.dlq
export SESSIONIZER_WORKER_APP_ID=demo-sessionizer
export SESSIONIZER_SINK_GROUP_ID=demo-sessionizer-sink
export SESSIONIZER_DB_SCHEMA=demo
export SESSIONIZER_WORKER_DATA_DIR="$PWD/$DEMO_DIR/worker-data"
export SESSIONIZER_WORKER_WEB_PORT=${DEMO_WEB_PORT:-6167}

say "local stack up"
stack_up
trap cleanup EXIT

say "emptying the demo's topics and schema (earlier runs)"
"$PY" dev/demo_reset.py
say "sessionizer migrate --schema demo"
"$SESSIONIZER" migrate >&2

say "sessionizer worker in the background (log: $DEMO_DIR/worker.log)"
"$SESSIONIZER" worker >"$DEMO_DIR/worker.log" 2>&1 &
worker_pid=$!

start=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)
say "sessionizer simulate --sessions $SESSIONS --seed $SEED --start $start -o $DEMO_DIR/events.jsonl"
"$SESSIONIZER" simulate --sessions "$SESSIONS" --seed "$SEED" --start "$start" \
  --output "$DEMO_DIR/events.jsonl"
say "sessionizer produce $DEMO_DIR/events.jsonl (bad lines go to the DLQ)"
"$SESSIONIZER" produce --dlq "$DEMO_DIR/events.jsonl"

say "waiting until drained: worker lag 0, no new snapshot for a flush interval, sink lag 0"
"$PY" -m streams.pipeline_drain --timeout 240 --pid "$worker_pid"
kill -0 "$worker_pid" 2>/dev/null || { say "the worker died"; tail -n 30 "$DEMO_DIR/worker.log" >&2; exit 1; }

say "report (dev/demo_report.sql on schema demo)"
echo
"$PY" dev/demo_report.py
echo

say "sessionizer check $DEMO_DIR/events.jsonl (the table against the offline fold of the file)"
"$SESSIONIZER" check "$DEMO_DIR/events.jsonl"

stop_worker
elapsed=$(($(date +%s) - started_at))
if [ "$stop_kafka$stop_postgres" = 00 ]; then
  stack_note="the local stack keeps running (it was running before the demo)"
else
  stack_note="the local stack stops now (this run started it; \`make dev-up\` starts it again, data kept in .dev/)"
fi
cat <<EOF

Demo done in ${elapsed} s (after \`make install\`): $SESSIONS simulated sessions went through
Kafka, the worker and its sink into Postgres, and the table equals the offline fold of the file.
Nothing it started is left running: $stack_note.

Where to look next
  README.md                     architecture, settings, every command
  sql/README.md                 the table, the views, the example queries
  dev/demo_report.sql           the report above (\`SESSIONIZER_DB_SCHEMA=demo .venv/bin/python dev/demo_report.py\`)
  $DEMO_DIR/events.jsonl        the events sent (\`sessionizer fold\` it to see every batch)
  $DEMO_DIR/worker.log          the worker's log (a stats line every 10 s)
  schema demo                   psql "$DATABASE_URL" -c 'set search_path=demo' \\
                                  -c 'table analytics_session_summary limit 5'
  sessionizer --help            collect (HTTP intake), worker, sink, export, check, replay, ...
  sessionizer replay --help     rebuild the table from the raw topic, and why it is safe
EOF
