"""The ``apibridge`` command: ``convert`` (no network) and ``serve`` (the gateway)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``apibridge`` command; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="apibridge",
        description="Translate between Anthropic Messages, OpenAI Chat, OpenAI Responses and backboard.io.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    from apibridge import _convert_cli

    _convert_cli.add_arguments(
        commands.add_parser("convert", help=_convert_cli.HELP, description=_convert_cli.HELP)
    )
    try:
        from apibridge import _serve
    except ImportError:  # pragma: no cover - only while the gateway is not installed
        _serve = None  # type: ignore[assignment]
    if _serve is not None:
        _serve.add_arguments(
            commands.add_parser("serve", help=_serve.HELP, description=_serve.HELP)
        )
    args = parser.parse_args(argv)
    if args.command == "convert":
        return _convert_cli.run(args)
    return _serve.run(args)  # type: ignore[union-attr]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
