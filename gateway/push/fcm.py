"""The one module that talks to firebase-admin: FCM v1 through ``messaging.send_each_async``.

Imported only when push is configured: firebase-admin takes a second to import.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from typing import Any

import firebase_admin
import google.auth.transport.requests
import httpx
from firebase_admin import credentials, exceptions, messaging

from gateway.push import policy
from gateway.push.payload import Notification
from gateway.push.policy import Failure
from gateway.push.settings import PushSettings

MAX_BATCH = 500  # send_each_async refuses more in one call
_WEBPUSH_TOPIC_MAX = 32  # RFC 8030: at most 32 characters of the URL-safe base64 alphabet
_app_names = itertools.count()


class FcmSender:
    """Sends up to MAX_BATCH notifications per call; says, per message, how FCM answered."""

    def __init__(self, settings: PushSettings) -> None:
        assert settings.credentials_path is not None and settings.project_id is not None
        certificate = credentials.Certificate(str(settings.credentials_path))
        self.project_id = settings.project_id
        # An app of our own (not the default one), so nothing else in the process shares it.
        self._app = firebase_admin.initialize_app(
            certificate,
            options={"httpTimeout": settings.timeout_s, "projectId": settings.project_id},
            name=f"atdesk-push-{next(_app_names)}",
        )
        self._credential = certificate.get_credential()
        if settings.endpoint is not None:
            _use_test_endpoint(self._app, settings.endpoint)

    async def send(self, batch: Sequence[tuple[str, Notification]]) -> list[Failure | None]:
        """Send each (push token, notification); None where FCM took it, else why not.

        Raises whatever stops the whole batch before any message goes (no access token).
        """
        if len(batch) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} messages per call")
        await self._ensure_access_token()
        messages = [fcm_message(token, notification) for token, notification in batch]
        response = await messaging.send_each_async(messages, app=self._app)
        return [None if sent.success else failure_of(sent.exception) for sent in response.responses]

    async def _ensure_access_token(self) -> None:
        # firebase-admin would refresh an expired OAuth token inside its request, with a
        # blocking HTTP call on the event loop; refreshing here, in a thread, keeps the loop
        # (and so every socket) free while the token endpoint answers.
        if not self._credential.valid:
            request = google.auth.transport.requests.Request()
            await asyncio.to_thread(self._credential.refresh, request)


def fcm_message(token: str, notification: Notification) -> Any:
    """The firebase-admin Message for one device; the collapse key groups a thread."""
    key = notification.collapse_key
    webpush_headers = {"Topic": key} if len(key) <= _WEBPUSH_TOPIC_MAX else {}
    return messaging.Message(
        token=token,
        data=dict(notification.data),
        notification=messaging.Notification(title=notification.title, body=notification.body),
        # collapse_key: FCM keeps only the newest undelivered push of a thread; tag (Android,
        # web), apns-collapse-id and thread-id (iOS): the phone shows one per thread.
        android=messaging.AndroidConfig(
            collapse_key=key, priority="high", notification=messaging.AndroidNotification(tag=key)
        ),
        apns=messaging.APNSConfig(
            headers={"apns-collapse-id": key},
            payload=messaging.APNSPayload(aps=messaging.Aps(thread_id=key)),
        ),
        webpush=messaging.WebpushConfig(
            headers=webpush_headers, notification=messaging.WebpushNotification(tag=key)
        ),
    )


def failure_of(error: BaseException | None) -> Failure:
    """What a failed send's exception tells: status, codes, whether the token is to blame."""
    if not isinstance(error, exceptions.FirebaseError):
        return Failure(status=None, code="UNKNOWN", message=repr(error))
    response = error.http_response
    status = response.status_code if isinstance(response, httpx.Response) else None
    fcm_code, field_violations = _details(response)
    return Failure(
        status=status,
        code=str(error.code),
        fcm_code=fcm_code,
        token_rejected=policy.token_rejected(str(error), field_violations),
        retry_after_s=_retry_after(response),
        message=str(error),
    )


def _details(response: Any) -> tuple[str | None, list[str]]:
    """FcmError.errorCode and the BadRequest field names of an FCM error body."""
    if not isinstance(response, httpx.Response):
        return None, []
    try:
        body = json.loads(response.content)
    except ValueError:
        return None, []
    details = body.get("error", {}).get("details", []) if isinstance(body, dict) else []
    fcm_code: str | None = None
    fields: list[str] = []
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        kind = detail.get("@type", "")
        if kind.endswith("google.firebase.fcm.v1.FcmError"):
            fcm_code = detail.get("errorCode")
        elif kind.endswith("google.rpc.BadRequest"):
            fields += [str(v.get("field")) for v in detail.get("fieldViolations", [])]
    return fcm_code, fields


def _retry_after(response: Any) -> float | None:
    if not isinstance(response, httpx.Response):
        return None
    raw = response.headers.get("retry-after", "")
    return float(raw) if raw.strip().isdigit() else None


def _use_test_endpoint(app: Any, endpoint: str) -> None:
    """Tests only (ATDESK_TESTING=1): send to a local fake FCM instead of Google's.

    firebase-admin has no option for the FCM address: its messaging service builds the URL
    from the project id once, into ``_fcm_url``. Only that URL changes; the encoding, the
    OAuth flow (to the token_uri of the test's service-account file), the HTTP client and
    the error parsing all stay the real ones, which is what the push tests are there for.
    """
    service = messaging._get_messaging_service(app)
    if not isinstance(getattr(service, "_fcm_url", None), str):
        raise RuntimeError("this firebase-admin keeps its FCM URL elsewhere: update push/fcm.py")
    service._fcm_url = f"{endpoint}/v1/projects/{app.project_id}/messages:send"
