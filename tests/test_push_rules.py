"""Push rules without I/O: what a push shows, what an FCM answer means, when to retry,
and which settings start the gateway."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from firebase_admin import exceptions

from gateway.events import MessageCommitted
from gateway.push.fcm import failure_of
from gateway.push.payload import PREVIEW_CHARS, PushJob, PushKind, notification_for
from gateway.push.policy import Failure, Verdict, retry_delay_s, should_retry, verdict
from gateway.push.settings import load_push_settings
from gateway.schemas import MessagePublic, Sender
from gateway.settings import SettingsError, load_settings


def _job(text: str = "my order 123 has not arrived", **changes: object) -> PushJob:
    fields: dict[str, object] = {
        "kind": PushKind.MESSAGE,
        "brand_id": "b_1",
        "consumer_id": "a_lea",
        "conversation_id": "c_1",
        "seq": 12,
        "text": text,
        "sender_id": "a_lea",
    }
    fields.update(changes)
    return PushJob(**fields)  # type: ignore[arg-type]


# --- payload -----------------------------------------------------------------------------


def test_a_message_push_names_thread_and_seq_but_not_the_text() -> None:
    notification = notification_for(_job(), brand_handle="acme", previews=False)
    assert notification.title == "New message"
    assert notification.body is None
    assert notification.data == {
        "type": "message",
        "brand": "acme",
        "conversation_id": "c_1",
        "seq": "12",
    }
    assert notification.collapse_key == "c_1"


def test_previews_show_the_brand_and_the_text_squeezed_and_cut() -> None:
    notification = notification_for(
        _job("  where\n\nis   it? "), brand_handle="acme", previews=True
    )
    assert (notification.title, notification.body) == ("@acme", "where is it?")
    exact = notification_for(_job("x" * PREVIEW_CHARS), brand_handle="acme", previews=True)
    assert exact.body == "x" * PREVIEW_CHARS
    long = notification_for(_job("y" * 4000), brand_handle="acme", previews=True)
    assert long.body == "y" * (PREVIEW_CHARS - 1) + "…"
    blank = notification_for(_job("   "), brand_handle="acme", previews=True)
    assert (blank.title, blank.body) == ("@acme", None)


def test_rating_requests_and_notices_have_their_own_titles_and_keys() -> None:
    rating = notification_for(
        _job("Rate your chat with @acme", kind=PushKind.RATING_REQUEST, seq=None),
        brand_handle="acme",
        previews=False,
    )
    assert rating.title == "How did we do?"
    assert rating.data == {"type": "rating_request", "brand": "acme", "conversation_id": "c_1"}
    notice = notification_for(
        _job("Outage in Lyon", kind=PushKind.NOTICE, conversation_id=None, seq=None),
        brand_handle="acme",
        previews=False,
    )
    assert (notice.title, notice.body) == ("New notice", None)
    assert notice.data == {"type": "notice", "brand": "acme"}
    assert notice.collapse_key == "b_1"  # a brand's notices replace each other


def test_a_committed_message_becomes_a_job_that_spares_its_sender() -> None:
    event = MessageCommitted(
        brand_id="b_1",
        consumer_id="a_lea",
        message=MessagePublic(
            conversation_id="c_1",
            seq=3,
            id="m_1",
            client_id="k",
            sender=Sender(id="a_agent", role="agent", display_name="Sam"),
            text="hi",
            created_at="2026-11-22T10:00:00.000Z",
        ),
    )
    assert PushJob.message(event) == PushJob(
        kind=PushKind.MESSAGE,
        brand_id="b_1",
        consumer_id="a_lea",
        conversation_id="c_1",
        seq=3,
        text="hi",
        sender_id="a_agent",
        recipients=None,
    )


# --- what an answer means ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (None, Verdict.SENT),
        (Failure(404, "NOT_FOUND", "UNREGISTERED"), Verdict.PRUNE),
        (Failure(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", token_rejected=True), Verdict.PRUNE),
        (Failure(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"), Verdict.FAIL),  # our payload
        (Failure(503, "UNAVAILABLE", "UNAVAILABLE"), Verdict.RETRY),
        (Failure(500, "INTERNAL", "INTERNAL"), Verdict.RETRY),
        (Failure(502, "UNKNOWN"), Verdict.RETRY),
        (Failure(504, "UNKNOWN"), Verdict.RETRY),
        (Failure(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), Verdict.RETRY),
        (Failure(None, "DEADLINE_EXCEEDED"), Verdict.RETRY),  # timed out
        (Failure(None, "UNAVAILABLE"), Verdict.RETRY),  # could not connect
        (Failure(None, "UNKNOWN"), Verdict.RETRY),  # connection lost mid-answer
        (Failure(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"), Verdict.FAIL),
        (Failure(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), Verdict.FAIL),
        (Failure(404, "NOT_FOUND"), Verdict.FAIL),  # no UNREGISTERED: keep the token
    ],
)
def test_verdicts(failure: Failure | None, expected: Verdict) -> None:
    assert verdict(failure) is expected


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "https://fcm.example/v1/projects/p/messages:send")
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers=headers, request=request
    )


def test_failures_are_read_from_firebase_errors_and_fcm_bodies() -> None:
    fcm_error = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
    bad_token = _response(
        400,
        {
            "error": {
                "code": 400,
                "status": "INVALID_ARGUMENT",
                "message": "Invalid value at 'message.token'",
                "details": [
                    {"@type": fcm_error, "errorCode": "INVALID_ARGUMENT"},
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": "message.token", "description": "bad"}],
                    },
                ],
            }
        },
    )
    failure = failure_of(exceptions.InvalidArgumentError("bad", http_response=bad_token))
    assert (failure.status, failure.code, failure.fcm_code) == (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
    )
    assert failure.token_rejected is True
    bad_payload = _response(
        400,
        {
            "error": {
                "code": 400,
                "status": "INVALID_ARGUMENT",
                "message": 'Invalid JSON payload received. Unknown name "colour"',
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": "message.android.notification"}],
                    }
                ],
            }
        },
    )
    failure = failure_of(
        exceptions.InvalidArgumentError("Invalid JSON payload received", http_response=bad_payload)
    )
    assert (failure.fcm_code, failure.token_rejected) == (None, False)
    busy = _response(503, {"error": {"code": 503}}, headers={"Retry-After": "30"})
    failure = failure_of(exceptions.UnavailableError("busy", http_response=busy))
    assert (failure.status, failure.code, failure.retry_after_s) == (503, "UNAVAILABLE", 30.0)
    timeout = failure_of(exceptions.DeadlineExceededError("timed out"))
    assert (timeout.status, timeout.code, timeout.fcm_code) == (None, "DEADLINE_EXCEEDED", None)
    assert failure_of(RuntimeError("boom")).code == "UNKNOWN"
    html = httpx.Response(502, content=b"<html>", request=busy.request)
    assert failure_of(exceptions.UnknownError("502", http_response=html)).status == 502


# --- when to retry ---------------------------------------------------------------------------


def test_back_off_doubles_within_its_jitter_and_stops_at_the_cap() -> None:
    assert [retry_delay_s(n, base_s=1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert [retry_delay_s(n, base_s=1.0, jitter=0.5) for n in (1, 2)] == [0.75, 1.5]
    assert retry_delay_s(20, base_s=1.0, cap_s=300.0) == 150.0
    assert retry_delay_s(20, base_s=1.0, cap_s=300.0, jitter=1.0) == 300.0


def test_retry_after_is_a_floor_within_the_cap() -> None:
    assert retry_delay_s(1, base_s=1.0, retry_after_s=30.0) == 30.0
    assert retry_delay_s(5, base_s=1.0, retry_after_s=2.0) == 8.0
    assert retry_delay_s(1, base_s=1.0, cap_s=60.0, retry_after_s=3600.0) == 60.0


def test_only_transient_failures_are_retried_and_only_so_many_times() -> None:
    assert should_retry(Verdict.RETRY, attempt=4, max_attempts=5) is True
    assert should_retry(Verdict.RETRY, attempt=5, max_attempts=5) is False
    for other in (Verdict.SENT, Verdict.PRUNE, Verdict.FAIL):
        assert should_retry(other, attempt=1, max_attempts=5) is False


# --- settings --------------------------------------------------------------------------------


def _key_file(tmp_path: Path, **fields: object) -> Path:
    info = {
        "type": "service_account",
        "project_id": "shop-prod",
        "private_key": "k",
        "client_email": "push@shop-prod.iam.gserviceaccount.com",
        **fields,
    }
    path = tmp_path / "key.json"
    path.write_text(json.dumps(info))
    return path


def test_push_is_off_without_credentials() -> None:
    settings = load_push_settings({})
    assert (settings.enabled, settings.credentials_path, settings.endpoint) == (False, None, None)


def test_credentials_come_from_our_setting_before_googles(tmp_path: Path) -> None:
    ours = _key_file(tmp_path)
    settings = load_push_settings(
        {"ATDESK_FCM_CREDENTIALS": str(ours), "GOOGLE_APPLICATION_CREDENTIALS": "/elsewhere"}
    )
    assert (settings.enabled, settings.credentials_path, settings.project_id) == (
        True,
        ours,
        "shop-prod",
    )
    google = load_push_settings({"GOOGLE_APPLICATION_CREDENTIALS": str(ours)})
    assert google.credentials_path == ours


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        (json.dumps({"type": "authorized_user"}), "is not a service-account key file"),
        (
            json.dumps({"type": "service_account", "project_id": "p"}),
            "lacks private_key, client_email",
        ),
    ],
)
def test_a_bad_key_file_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(ValueError) as refused:
        load_push_settings({"GOOGLE_APPLICATION_CREDENTIALS": str(path)})
    assert str(refused.value) == f"GOOGLE_APPLICATION_CREDENTIALS={str(path)!r} {message}"


def test_the_auth_emulator_and_the_test_endpoint_are_for_tests_only() -> None:
    with pytest.raises(SettingsError, match="FIREBASE_AUTH_EMULATOR_HOST is set"):
        load_settings({"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"})
    with pytest.raises(SettingsError, match="ATDESK_FCM_ENDPOINT is for tests only"):
        load_settings({"ATDESK_FCM_ENDPOINT": "http://127.0.0.1:1"})
    testing = load_settings(
        {
            "ATDESK_TESTING": "1",
            "FIREBASE_AUTH_EMULATOR_HOST": "x:1",
            "ATDESK_FCM_ENDPOINT": "http://127.0.0.1:1/",
        }
    )
    assert testing.push.endpoint == "http://127.0.0.1:1"
    with pytest.raises(SettingsError, match="must be an http"):
        load_settings({"ATDESK_TESTING": "1", "ATDESK_FCM_ENDPOINT": "127.0.0.1:1"})


def test_push_numbers_are_checked() -> None:
    settings = load_push_settings({"ATDESK_PUSH_QUEUE_SIZE": "50", "ATDESK_PUSH_TIMEOUT_S": "2.5"})
    assert (settings.queue_size, settings.timeout_s, settings.max_attempts) == (50, 2.5, 5)
    with pytest.raises(ValueError, match="ATDESK_PUSH_QUEUE_SIZE='0' must be"):
        load_push_settings({"ATDESK_PUSH_QUEUE_SIZE": "0"})
    with pytest.raises(ValueError, match="ATDESK_PUSH_TIMEOUT_S='soon' is not a number"):
        load_push_settings({"ATDESK_PUSH_TIMEOUT_S": "soon"})
