"""Browser sessions for our own pages: sign in to an HttpOnly cookie, sign out of it."""

from __future__ import annotations

from gateway.http.api import ApiRequest, Endpoint
from gateway.schemas import SessionCreate, WebSession
from gateway.web_session import SESSION_COOKIE


async def create_web_session(call: ApiRequest) -> WebSession:
    body = await call.body(SessionCreate)
    session = await call.gateway.accounts.sign_in(body, client_ip=call.client_ip)
    max_age = call.gateway.settings.session_days * 86_400
    call.cookies.append((SESSION_COOKIE, session.token, max_age, True))
    return WebSession(account_id=session.account_id, expires_at=session.expires_at)


async def delete_web_session(call: ApiRequest) -> None:
    await call.gateway.accounts.sign_out(call.viewer)
    call.cookies.append((SESSION_COOKIE, None, None, True))


ENDPOINTS = (
    Endpoint("POST", "/v1/web/session",
             "Sign a browser in: the session goes to an HttpOnly cookie, never to the page",
             create_web_session, ok=(201, WebSession), auth=False, csrf=True,
             body=SessionCreate, errors=(401, 403, 422, 429)),
    Endpoint("DELETE", "/v1/web/session", "Sign a browser out and clear its cookie",
             delete_web_session, ok=(204, None), errors=(403,)),
)  # fmt: skip
