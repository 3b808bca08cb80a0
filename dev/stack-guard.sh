# Sourced by dev/run-tests.sh and dev/run-demo.sh: bring the local stack up, and on exit (also on
# failure or Ctrl-C) stop each service this script started; one that was already running stays.
# Skipped when KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL already point at services.
SESSIONIZER=${SESSIONIZER:-.venv/bin/sessionizer}
stop_kafka=0
stop_postgres=0

stack_down_if_started() {
  if [ "$stop_kafka" = 1 ] && [ "$stop_postgres" = 1 ]; then
    echo "== stopping the local stack (this run started it)" >&2
    "$SESSIONIZER" dev down || true
  elif [ "$stop_kafka" = 1 ]; then
    echo "== stopping local Kafka (this run started it)" >&2
    "$SESSIONIZER" dev down --kafka-only || true
  elif [ "$stop_postgres" = 1 ]; then
    echo "== stopping local Postgres (this run started it)" >&2
    "$SESSIONIZER" dev down --postgres-only || true
  fi
}

stack_up() {
  if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] && [ -n "${DATABASE_URL:-}" ]; then
    echo "== using KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL from the environment" >&2
    return 0
  fi
  local before exports
  before=$("$SESSIONIZER" dev status 2>/dev/null || true)
  grep -q '^kafka .*running (pid' <<<"$before" || stop_kafka=1
  grep -q '^postgres .*running (pid' <<<"$before" || stop_postgres=1
  if [ "$stop_kafka$stop_postgres" = 00 ]; then
    echo "== the local stack is already running: leaving it running afterwards" >&2
  fi
  trap stack_down_if_started EXIT
  trap 'exit 130' INT TERM
  echo "== local stack up" >&2
  exports=$("$SESSIONIZER" dev up) || { echo "== the local stack did not come up" >&2; exit 1; }
  eval "$exports"
  export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL
}
