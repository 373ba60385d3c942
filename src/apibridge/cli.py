"""The ``apibridge`` command: ``convert`` (no network) and ``serve`` (the gateway)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from apibridge import __version__
from apibridge import _cli_convert as _convert_cli
from apibridge import _cli_serve as _serve

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``apibridge`` command line (the deployment files' tests parse theirs with it)."""
    parser = argparse.ArgumentParser(
        prog="apibridge",
        description="Translate between Anthropic Messages, OpenAI Chat Completions, "
        "OpenAI Responses and backboard.io.",
    )
    parser.add_argument("--version", action="version", version=f"apibridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help=_convert_cli.HELP, description=_convert_cli.HELP)
    _convert_cli.add_arguments(convert)
    serve = commands.add_parser("serve", help=_serve.HELP, description=_serve.HELP)
    _serve.add_arguments(serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``apibridge`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "convert":
        return _convert_cli.run(args)
    return _serve.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
