"""atdesk-sdk: talk to brands (or answer as one) through an atdesk gateway.

    async with AtdeskClient("http://127.0.0.1:8000") as client:
        await client.sign_in("lea@example.com", "correct horse")
        await client.connect()
        ack = await client.send(to="@acme", text="my order never came")
        async for event in client.events():
            ...

See the README for the whole tour.
"""

from atdesk_sdk.backoff import Backoff
from atdesk_sdk.client import AtdeskClient, ConnectionState
from atdesk_sdk.errors import ApiError, AtdeskError, AuthError, ClientClosed, SendRejected
from atdesk_sdk.events import (
    Connected,
    ConversationEvent,
    Disconnected,
    Event,
    MessageEvent,
    OtherEvent,
    ReadEvent,
    SendFailed,
    TypingEvent,
)
from atdesk_sdk.models import (
    Account,
    Ack,
    Brand,
    Conversation,
    ConversationPage,
    Me,
    Message,
    MessagePage,
    Sender,
    Session,
)
from atdesk_sdk.outbox import OutboxEntry
from atdesk_sdk.state import StateFileInUse

__version__ = "0.1.0"

__all__ = [
    "Account",
    "Ack",
    "ApiError",
    "AtdeskClient",
    "AtdeskError",
    "AuthError",
    "Backoff",
    "Brand",
    "ClientClosed",
    "Connected",
    "ConnectionState",
    "Conversation",
    "ConversationEvent",
    "ConversationPage",
    "Disconnected",
    "Event",
    "Me",
    "Message",
    "MessageEvent",
    "MessagePage",
    "OtherEvent",
    "OutboxEntry",
    "ReadEvent",
    "SendFailed",
    "SendRejected",
    "Sender",
    "Session",
    "StateFileInUse",
    "TypingEvent",
]
