"""Hostile input through the edge gets a 400 that names the field, never a 500 nor any of the server's insides."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from tests.fixtures.platform import RunningPlatform
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e
PASSWORD = "hostile-pass-1"
# What an answer shows when an exception's text, a query or a stack reached it.
INTERNALS = ("SELECT", "INSERT", "sqlalchemy", "psycopg", "Traceback", 'File "', "Exception")


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def signed_in(platform: RunningPlatform) -> EdgeClient:
    client = EdgeClient(platform.url)
    client.register(f"hostile-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    return client


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/auth/login", {"email": "a\u0000@x.io", "password": "x"}, "email"),
        ("POST", "/api/auth/register", {"email": "a@x.io", "password": "pass\u0000word-1"}, "password"),
        ("GET", "/api/gallery/videos?search=%00", None, "search"),
        ("GET", "/api/gallery/videos?search=" + "a" * 5000, None, "search"),
        ("GET", f"/api/gallery/videos?pageToken={_token('o' + str(2**63 + 5))}", None, "page_token"),
        ("GET", f"/api/gallery/videos?pageToken={_token('o-5')}", None, "page_token"),
        ("GET", "/api/gallery/videos?pageToken=%00", None, "page_token"),
        ("GET", "/api/gallery/videos?page=-1", None, "page"),
        ("POST", "/api/auth/refresh", {"refreshToken": "\u0000"}, "refresh_token"),
        # Longer than their columns, shorter than the general string bound.
        ("POST", "/api/upload/url", {"filename": "a.mp4", "contentType": "video/" + "x" * 200}, "content_type"),
        (
            "POST",
            "/api/auth/register",
            {"email": "d@x.io", "password": "pass-word-1", "displayName": "d" * 300},
            "display_name",
        ),
    ],
)
def test_hostile_values_are_refused_naming_the_field(
    platform: RunningPlatform, signed_in: EdgeClient, method: str, path: str, body: dict[str, Any] | None, field: str
) -> None:
    reply = signed_in._http.request(method, path, json=body, headers=signed_in._headers())

    assert reply.status_code == 400, reply.text
    assert reply.json()["message"].startswith(f"{field}: "), reply.text
    assert not [word for word in INTERNALS if word in reply.text], reply.text


def test_a_cleanup_cutoff_before_any_date_is_refused_naming_the_field(platform: RunningPlatform) -> None:
    with platform.admin_client(PASSWORD) as admin, pytest.raises(ApiError) as refusal:
        admin.request("DELETE", f"/api/jobs/admin/cleanup-old?days={2**31 - 2}")

    assert (refusal.value.status, refusal.value.reason) == (400, "BAD_DAYS")
    assert str(refusal.value).startswith("days: ")


def test_an_email_too_long_for_a_display_name_registers_with_the_name_cut(platform: RunningPlatform) -> None:
    local = "n" * 240
    with EdgeClient(platform.url) as client:
        session = client.register(f"{local}@x.io", PASSWORD)

    assert session["user"]["displayName"] == local[:200]


def test_header_names_grpc_cannot_carry_are_dropped_by_the_edge(signed_in: EdgeClient) -> None:
    # Valid HTTP header names that are no gRPC metadata keys; a service's server would refuse the whole call.
    reply = signed_in._http.get(
        "/api/gallery/my-videos", headers={**signed_in._headers(), "#odd+name": "1", "x~tilde": "2"}
    )

    assert reply.status_code == 200, reply.text


def test_hostile_values_in_signed_in_calls_are_refused(signed_in: EdgeClient) -> None:
    with pytest.raises(ApiError) as refusal:
        signed_in.request("POST", "/api/upload/url", json={"filename": "a\u0000.mp4", "size": 10})

    assert (refusal.value.status, refusal.value.reason) == (400, "NUL_CHARACTER")
    assert str(refusal.value).startswith("filename: ")


@pytest.mark.parametrize(
    ("path", "body", "field", "reason"),
    [
        (
            "/api/upload/confirm",
            {"s3Key": "uploads/x/y/source", "title": "t", "codecs": ["vp9"]},
            "codecs",
            "UNKNOWN_CODEC",
        ),
        (
            "/v1/videos",
            {"s3Key": "uploads/x/y/source", "title": "t", "protection": "widevine"},
            "protection",
            "UNKNOWN_PROTECTION",
        ),
        ("/api/jobs", {"videoId": "v", "codecs": ["h264", "theora"]}, "codecs", "UNKNOWN_CODEC"),
    ],
)
def test_unknown_codecs_and_protection_are_refused_naming_what_is_allowed(
    signed_in: EdgeClient, path: str, body: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(ApiError) as refusal:
        signed_in.request("POST", path, json=body)

    assert (refusal.value.status, refusal.value.reason) == (400, reason)
    assert str(refusal.value).startswith(f"{field}: ") and "allowed:" in str(refusal.value)
