"""``python -m atdesk_sdk chat @acme``: the SDK's command line."""

from __future__ import annotations

import argparse
import sys

from atdesk_sdk import chat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m atdesk_sdk", description="atdesk from a terminal"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    chat_parser = commands.add_parser("chat", help="chat with a brand: chat @acme")
    chat.add_arguments(chat_parser)
    args = parser.parse_args(argv)
    return chat.run(chat_parser, args)


if __name__ == "__main__":
    sys.exit(main())
