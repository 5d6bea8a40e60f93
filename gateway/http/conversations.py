"""Section 3: conversations over HTTP."""

from __future__ import annotations

from gateway.http.api import ApiRequest, Endpoint, QueryParam
from gateway.schemas import (
    AssignBody,
    ConversationList,
    ConversationPublic,
    MessagePage,
    ResolveBody,
)


async def list_conversations(call: ApiRequest) -> ConversationList:
    return await call.gateway.conversations.list_conversations(
        call.viewer,
        status=call.query_str("status", choices=("open", "resolved")),
        before=call.query_str("before"),
        limit=call.query_int("limit", default=50, low=1, high=200),
    )


async def get_conversation(call: ApiRequest) -> ConversationPublic:
    return await call.gateway.conversations.get(call.viewer, call.path("conversation_id"))


async def list_messages(call: ApiRequest) -> MessagePage:
    return await call.gateway.conversations.history(
        call.viewer,
        call.path("conversation_id"),
        after_seq=call.query_int("after_seq", default=0, low=0, high=2**53),
        limit=call.query_int("limit", default=100, low=1, high=500),
    )


async def resolve_conversation(call: ApiRequest) -> ConversationPublic:
    body = await call.body(ResolveBody, required=False)
    return await call.gateway.conversations.resolve(call.viewer, call.path("conversation_id"), body)


async def assign_conversation(call: ApiRequest) -> ConversationPublic:
    body = await call.body(AssignBody)
    return await call.gateway.conversations.assign(call.viewer, call.path("conversation_id"), body)


_ID = "/v1/conversations/{conversation_id}"
ENDPOINTS = (
    Endpoint("GET", "/v1/conversations", "My threads, newest activity first",
             list_conversations, ok=(200, ConversationList), errors=(422,),
             query=(QueryParam("status", {"type": "string", "enum": ["open", "resolved"]}),
                    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
                    QueryParam("before", {"type": "string"}, "the `next` of the previous page"))),
    Endpoint("GET", _ID, "One conversation", get_conversation, ok=(200, ConversationPublic),
             errors=(404,)),
    Endpoint("GET", _ID + "/messages", "History, oldest first", list_messages,
             ok=(200, MessagePage), errors=(404, 422),
             query=(QueryParam("after_seq", {"type": "integer", "minimum": 0,
                                             "maximum": 2**53}),
                    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 500}))),
    Endpoint("POST", _ID + "/resolve", "Resolve the current case (brand members)",
             resolve_conversation, ok=(200, ConversationPublic), body=ResolveBody,
             body_required=False, errors=(403, 404, 422)),
    Endpoint("POST", _ID + "/assign", "Assign to a member, or unassign with null",
             assign_conversation, ok=(200, ConversationPublic), body=AssignBody,
             errors=(403, 404, 422)),
)  # fmt: skip
