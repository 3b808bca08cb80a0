"""`sessionizer schema`: print the JSON Schema of a contract document."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ingest.event_models import raw_event_json_schema
from sessionizer.settings import Settings

_SCHEMAS = {"events": raw_event_json_schema}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of a contract document",
        description=(
            "Print a JSON Schema (draft 2020-12) on stdout. 'events': the raw event, "
            "version 1 (SPEC 2.1), one model per 'type'. The schema states the field rules; "
            "sanitizing, time rules, size and nesting limits are applied by validation too."
        ),
    )
    parser.add_argument("document", choices=sorted(_SCHEMAS), help="which schema to print")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    text = json.dumps(_SCHEMAS[args.document](), indent=2, ensure_ascii=False)
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the exit flush quiet
    return 0
