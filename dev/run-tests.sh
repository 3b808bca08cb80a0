#!/usr/bin/env bash
# `make test`: local stack up, ruff, mypy --strict, pytest, local stack down if this run started
# it (also when a step fails). pytest's "no tests collected" (exit 5) counts as success.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# shellcheck source=dev/stack-guard.sh
. dev/stack-guard.sh

stack_up

echo "== ruff check" >&2
"$BIN/ruff" check .
echo "== mypy --strict ${MYPY_DIRS:-sessionizer}" >&2
# shellcheck disable=SC2086
"$BIN/mypy" ${MYPY_DIRS:-sessionizer}
echo "== pytest" >&2
status=0
"$BIN/pytest" -q -p no:cacheprovider "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "== pytest collected no tests" >&2
  status=0
fi
exit "$status"
