"""One module per CLI command; each exposes ``register(subparsers)``.

A command's ``register`` adds its sub-parser and sets ``handler`` to a function
``(args, settings) -> int`` (the exit status).
"""
