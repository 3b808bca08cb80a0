"""`sessionizer simulate`: placeholder until its issue lands."""

from __future__ import annotations

import argparse
import sys

from sessionizer.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("simulate", help="(not built yet)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    print("sessionizer simulate: not built yet", file=sys.stderr)
    return 2
