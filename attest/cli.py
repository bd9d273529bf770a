"""The `attest` command: `attest verify android|apple-attestation|apple-assertion`, `attest serve`,
`attest db upgrade`, `attest clients add|list|remove|load`, `attest keys rotate|list`, `attest mail send-pending`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from attest.android import cli as android_cli
from attest.cli_output import EXIT_UNREADABLE, UsageError, fail_unreadable
from attest.server import cli as server_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    verify = commands.add_parser("verify", help="verify an attestation offline and print the verdict")
    platforms = verify.add_subparsers(dest="platform", required=True)
    android_cli.add_parser(platforms)
    _add_apple_parsers(platforms)

    server_cli.add_parsers(commands)
    return parser


def _add_apple_parsers(platforms: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    try:
        from attest.apple import cli as apple_cli
    except ImportError:  # the Apple verifier lands separately
        return
    apple_cli.add_parsers(platforms)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        return fail_unreadable(str(exc))
    except KeyboardInterrupt:
        return EXIT_UNREADABLE
    return code


if __name__ == "__main__":
    sys.exit(main())
