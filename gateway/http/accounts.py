"""Section 1: accounts and sessions."""

from __future__ import annotations

from gateway.http.api import ApiRequest, Endpoint
from gateway.schemas import AccountCreate, AccountPublic, Me, SessionCreate, SessionCreated


async def create_account(call: ApiRequest) -> AccountPublic:
    return await call.gateway.accounts.sign_up(await call.body(AccountCreate))


async def create_session(call: ApiRequest) -> SessionCreated:
    body = await call.body(SessionCreate)
    return await call.gateway.accounts.sign_in(body, client_ip=call.client_ip)


async def delete_current_session(call: ApiRequest) -> None:
    await call.gateway.accounts.sign_out(call.viewer)


async def get_me(call: ApiRequest) -> Me:
    return await call.gateway.accounts.me(call.viewer)


ENDPOINTS = (
    Endpoint("POST", "/v1/accounts", "Sign up", create_account, ok=(201, AccountPublic),
             auth=False, body=AccountCreate, errors=(409, 422)),
    Endpoint("POST", "/v1/sessions", "Sign in: get a bearer token", create_session,
             ok=(201, SessionCreated), auth=False, body=SessionCreate, errors=(401, 422, 429)),
    Endpoint("DELETE", "/v1/sessions/current", "Sign out: the token dies everywhere at once",
             delete_current_session, ok=(204, None)),
    Endpoint("GET", "/v1/me", "Who am I, and which brands do I work for", get_me, ok=(200, Me)),
)  # fmt: skip
