"""``python -m atdesk_sdk chat @acme``: a line-by-line chat with a brand in a terminal.

Type a line and press Enter to send it; replies are printed as they come. ``/quit`` or
end of input (Ctrl-D) leaves, after the messages still queued have been sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import threading
import time

import httpx

from atdesk_sdk.client import AtdeskClient
from atdesk_sdk.errors import ApiError, AtdeskError, AuthError, SendRejected
from atdesk_sdk.events import (
    Connected,
    ConversationEvent,
    Disconnected,
    Event,
    MessageEvent,
    SendFailed,
    TypingEvent,
)
from atdesk_sdk.models import Conversation, Message
from atdesk_sdk.outbox import normalize_handle

QUIT_COMMANDS = frozenset({"/quit", "/exit", "/q"})
TYPING_NOTICE_EVERY_S = 5.0
FLUSH_ON_EXIT_S = 10.0


def say(line: str) -> None:
    """One line to the terminal (the chat's whole user interface)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="@handle of a brand, or a conversation id")
    parser.add_argument(
        "--url",
        default=os.environ.get("ATDESK_URL", "http://127.0.0.1:8000"),
        help="the gateway (default: $ATDESK_URL or http://127.0.0.1:8000)",
    )
    parser.add_argument("--email", default=os.environ.get("ATDESK_EMAIL"), help="$ATDESK_EMAIL")
    parser.add_argument(
        "--password", default=os.environ.get("ATDESK_PASSWORD"), help="$ATDESK_PASSWORD"
    )
    parser.add_argument(
        "--sign-up", metavar="NAME", help="create the account first, with this display name"
    )
    parser.add_argument("--state", help="a file that keeps unsent messages across crashes")
    parser.add_argument("--history", type=int, default=20, help="earlier messages to show")


async def run_chat(args: argparse.Namespace) -> int:
    """The chat, from signing in to leaving; the process exit status."""
    async with AtdeskClient(args.url, state_path=args.state) as client:
        try:
            chat = await Chat.open(client, args)
        except AuthError:
            say("atdesk chat: wrong email or password")
            return 1
        except ApiError as error:
            say(f"atdesk chat: {error.message}")
            return 1
        except (OSError, httpx.TransportError) as error:
            say(f"atdesk chat: cannot reach {args.url}: {error}")
            return 1
        return await chat.run()


class Chat:
    """One person talking to one thread; everything that happens is printed as a line."""

    def __init__(self, client: AtdeskClient, *, account_id: str, handle: str | None) -> None:
        self.client = client
        self.account_id = account_id
        self.handle = handle
        self.conversation_id: str | None = None
        self.sent_here: set[str] = set()  # client_ids typed in this terminal: already shown
        self.names: dict[str, str] = {}
        self._typing_shown: dict[str, float] = {}
        self._online = False
        self._sends: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(cls, client: AtdeskClient, args: argparse.Namespace) -> Chat:
        if args.sign_up:
            try:
                await client.sign_up(args.email, args.password, args.sign_up)
            except ApiError as error:
                if error.code != "email_taken":  # taken: the account is there; sign in
                    raise
        await client.sign_in(args.email, args.password, device_name="atdesk chat")
        me = await client.me()
        target: str = args.target
        conversation: Conversation | None = None
        if target.startswith("@"):
            brand = await client.brand(target)
            chat = cls(client, account_id=me.id, handle=brand.handle)
            for candidate in await client.all_conversations():
                if candidate.brand.handle == brand.handle and candidate.consumer.id == me.id:
                    conversation = candidate
            title = f"@{brand.handle} ({brand.name})"
        else:
            conversation = await client.conversation(target)
            chat = cls(client, account_id=me.id, handle=None)
            title = f"@{conversation.brand.handle}, {conversation.consumer.display_name}'s thread"
        say(f"Signed in as {me.display_name} <{me.email}>. Talking to {title}.")
        say("Type a message and press Enter to send it; /quit to leave.")
        if conversation is not None:
            chat.conversation_id = conversation.id
            after = max(0, conversation.last_seq - args.history)
            for message in await client.history(conversation.id, after_seq=after):
                chat.show(message)
        return chat

    async def run(self) -> int:
        await self.client.connect(wait=False)
        lines = read_lines()
        events = asyncio.create_task(self._print_events())
        typed = asyncio.create_task(self._send_lines(lines))
        done, _ = await asyncio.wait({events, typed}, return_when=asyncio.FIRST_COMPLETED)
        status = 0
        if events in done:
            status = 1  # the session died (signed out elsewhere); nothing more can be sent
            typed.cancel()
        else:
            await self._flush()
            events.cancel()
        for task in (events, typed):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return status

    async def _send_lines(self, lines: asyncio.Queue[str | None]) -> None:
        while (line := await lines.get()) is not None:
            text = line.strip()
            if text in QUIT_COMMANDS:
                return
            if text:
                self._send(text)

    def _send(self, text: str) -> None:
        client_id = os.urandom(16).hex()
        self.sent_here.add(client_id)
        if self.conversation_id is not None:
            sending = self.client.send(
                text=text, conversation_id=self.conversation_id, client_id=client_id
            )
        else:
            sending = self.client.send(text=text, to=f"@{self.handle}", client_id=client_id)

        async def wait_for_ack() -> None:
            try:
                ack = await sending
            except SendRejected as error:
                say(f"[not sent: {error.message}]")
            except AtdeskError:
                pass  # the event printer says why the session ended
            else:
                self.conversation_id = self.conversation_id or ack.conversation_id

        task = asyncio.create_task(wait_for_ack())
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _flush(self) -> None:
        if self.client.pending():
            say(f"[sending {len(self.client.pending())} queued message(s)...]")
        try:
            async with asyncio.timeout(FLUSH_ON_EXIT_S):
                await self.client.flush()
                if self._sends:
                    await asyncio.wait(self._sends)
        except TimeoutError:
            say(f"[{len(self.client.pending())} message(s) could not be sent]")
        except AtdeskError:
            pass

    async def _print_events(self) -> None:
        try:
            async for event in self.client.events():
                await self._on_event(event)
        except AuthError as error:
            say(f"[signed out: {error.message}]")

    async def _on_event(self, event: Event) -> None:
        match event:
            case MessageEvent(message=message):
                if self.conversation_id is None and message.client_id in self.sent_here:
                    self.conversation_id = message.conversation_id  # the thread we opened
                if message.conversation_id == self.conversation_id:
                    self.show(message)
                    await self.client.mark_read(message.conversation_id, message.seq)
            case ConversationEvent(conversation=conversation):
                if (
                    self.conversation_id is None
                    and conversation.consumer.id == self.account_id
                    and conversation.brand.handle == self.handle
                ):
                    self.conversation_id = conversation.id
            case TypingEvent(conversation_id=conversation_id, account_id=account_id):
                last = self._typing_shown.get(account_id, 0.0)
                recent = time.monotonic() - last < TYPING_NOTICE_EVERY_S
                if conversation_id == self.conversation_id and not recent:
                    self._typing_shown[account_id] = time.monotonic()
                    who = self.names.get(account_id) or (f"@{self.handle}" if self.handle else "")
                    say(f"[{who or 'someone'} is typing...]")
            case Connected():
                self._online = True
                say("[connected]")
            case Disconnected():
                if self._online:  # once per outage, not once per attempt
                    self._online = False
                    say("[connection lost; reconnecting...]")
            case SendFailed(message=why):
                say(f"[not sent: {why}]")
            case _:
                pass

    def show(self, message: Message) -> None:
        self.names[message.sender.id] = message.sender.display_name
        self._typing_shown.pop(message.sender.id, None)
        if message.client_id in self.sent_here:
            return  # the terminal already shows what was typed here
        if message.sender.id == self.account_id:
            say(f"you: {message.text}")
        elif message.sender.role == "system":
            say(f"[{message.text}]")
        else:
            say(f"{message.sender.display_name} ({message.sender.role}): {message.text}")


def read_lines() -> asyncio.Queue[str | None]:
    """Lines typed on stdin, then None at end of input.

    A daemon thread blocks on stdin so the event loop never does; making the terminal
    non-blocking instead would also make stdout non-blocking, and printing could fail.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, name="atdesk-chat-stdin", daemon=True).start()
    return lines


def ask_credentials(args: argparse.Namespace) -> bool:
    """Fill in a missing email or password from the terminal; False if there is none."""
    if args.email and args.password:
        return True
    if not sys.stdin.isatty():
        return False
    if not args.email:
        args.email = input("email: ").strip()
    if not args.password:
        args.password = getpass.getpass("password: ")
    return bool(args.email and args.password)


def main(argv: list[str] | None = None) -> int:
    """``atdesk-chat @acme``: the chat alone, without the ``chat`` subcommand."""
    parser = argparse.ArgumentParser(prog="atdesk-chat", description=__doc__)
    add_arguments(parser)
    return run(parser, parser.parse_args(argv))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not ask_credentials(args):
        parser.error("give --email and --password, or set ATDESK_EMAIL and ATDESK_PASSWORD")
    if args.target.startswith("@") and not normalize_handle(args.target):
        parser.error("a brand handle looks like @acme")
    try:
        return asyncio.run(run_chat(args))
    except KeyboardInterrupt:
        return 130
