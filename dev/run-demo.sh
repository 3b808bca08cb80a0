#!/usr/bin/env bash
# `make demo`: local stack up, the main job, local stack down if this run started it.
# Until the pipeline lands, the main job is showing that both services answer.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=dev/stack-guard.sh
. dev/stack-guard.sh

stack_up
echo "== local stack status" >&2
"$SESSIONIZER" dev status
