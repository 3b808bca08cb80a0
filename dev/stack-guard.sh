# Sourced by dev/run-tests.sh and dev/run-demo.sh: bring the local stack up, and down again on
# exit (also on failure or Ctrl-C) only when this script started it.
# Skipped when KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL already point at services.
SESSIONIZER=${SESSIONIZER:-.venv/bin/sessionizer}
stack_started_here=0

stack_down_if_started() {
  if [ "$stack_started_here" = 1 ]; then
    echo "== stopping the local stack (this run started it)" >&2
    "$SESSIONIZER" dev down || true
  fi
}

stack_up() {
  if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] && [ -n "${DATABASE_URL:-}" ]; then
    echo "== using KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL from the environment" >&2
    return 0
  fi
  if "$SESSIONIZER" dev status >/dev/null 2>&1; then
    echo "== the local stack is already running: leaving it running afterwards" >&2
  else
    stack_started_here=1
  fi
  trap stack_down_if_started EXIT
  trap 'exit 130' INT TERM
  echo "== local stack up" >&2
  local exports
  exports=$("$SESSIONIZER" dev up) || { echo "== the local stack did not come up" >&2; exit 1; }
  eval "$exports"
  export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL
}
