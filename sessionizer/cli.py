"""The ``sessionizer`` command line: the one entry point that builds :class:`Settings`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from sessionizer.commands import (
    check,
    collect,
    dev,
    export,
    fold,
    migrate,
    produce,
    replay,
    schema,
    simulate,
    sink,
    worker,
)
from sessionizer.errors import SessionizerError
from sessionizer.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]

COMMANDS = (
    dev,
    migrate,
    schema,
    produce,
    collect,
    fold,
    worker,
    sink,
    simulate,
    export,
    check,
    replay,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionizer",
        description=(
            "Fold raw behavioural events (Kafka) into per-session batch snapshots, "
            "stream them and upsert them into Postgres. Settings come from the "
            "environment: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL and SESSIONIZER_* "
            "(see README)."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"sessionizer: bad setting: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        return 130
    except SessionizerError as exc:
        print(f"sessionizer {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
