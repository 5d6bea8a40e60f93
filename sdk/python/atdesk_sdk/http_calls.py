"""The HTTP calls of ``AtdeskClient``: accounts, the directory, listings, push devices.

A base class of its own so that the client's module is about the socket alone.
"""

from __future__ import annotations

from atdesk_sdk.api import HttpApi
from atdesk_sdk.models import (
    Account,
    Brand,
    Conversation,
    ConversationPage,
    Me,
    Message,
    MessagePage,
    Session,
)


class HttpCalls:
    """Typed HTTP calls, each a thin layer over ``HttpApi`` (``self.api``)."""

    api: HttpApi

    async def sign_up(self, email: str, password: str, display_name: str) -> Account:
        """Create an account (it does not sign in).

        Raises:
            ApiError: ``email_taken`` (409) or ``invalid_input`` (422).
        """
        return await self.api.sign_up(email, password, display_name)

    async def sign_in(self, email: str, password: str, device_name: str | None = None) -> Session:
        """Get a token; the client uses it from now on.

        Raises:
            AuthError: ``bad_credentials``.
            ApiError: ``rate_limited`` (429) after too many failed attempts.
        """
        return await self.api.sign_in(email, password, device_name)

    async def sign_out(self) -> None:
        """Revoke the token everywhere; the socket closes and the client stops (``FAILED``)."""
        await self.api.sign_out()

    async def me(self) -> Me:
        return await self.api.me()

    async def search_brands(self, query: str, *, limit: int = 10) -> list[Brand]:
        """The directory, as an @-autocomplete would ask it: ``"ac"`` finds ``@acme``."""
        return await self.api.search_brands(query, limit=limit)

    async def brand(self, handle: str) -> Brand:
        """One brand by handle (``"acme"`` or ``"@acme"``); ApiError ``unknown_brand``."""
        return await self.api.brand(handle)

    async def conversations(
        self, *, status: str | None = None, limit: int = 50, before: str | None = None
    ) -> ConversationPage:
        """One page of your threads, newest activity first."""
        return await self.api.conversations(status=status, limit=limit, before=before)

    async def all_conversations(self, *, status: str | None = None) -> list[Conversation]:
        """Every one of your threads, newest activity first."""
        return await self.api.all_conversations(status=status)

    async def conversation(self, conversation_id: str) -> Conversation:
        return await self.api.conversation(conversation_id)

    async def messages(
        self, conversation_id: str, *, after_seq: int = 0, limit: int = 100
    ) -> MessagePage:
        """One page of a conversation's history, oldest first."""
        return await self.api.messages(conversation_id, after_seq=after_seq, limit=limit)

    async def history(self, conversation_id: str, *, after_seq: int = 0) -> list[Message]:
        """A conversation's whole history after ``after_seq``, oldest first."""
        return await self.api.history(conversation_id, after_seq=after_seq)

    async def register_device(self, platform: str, push_token: str) -> None:
        """Receive pushes on this device while no socket of yours is live.

        Args:
            platform: ``"android"``, ``"ios"`` or ``"web"``.
            push_token: the device's FCM registration token. Registering again is harmless.
        """
        await self.api.register_device(platform, push_token)

    async def unregister_device(self, push_token: str) -> None:
        await self.api.unregister_device(push_token)
