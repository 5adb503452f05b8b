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
    ],
)
def test_hostile_values_are_refused_naming_the_field(
    platform: RunningPlatform, signed_in: EdgeClient, method: str, path: str, body: dict[str, Any] | None, field: str
) -> None:
    reply = signed_in._http.request(method, path, json=body, headers=signed_in._headers())

    assert reply.status_code == 400, reply.text
    assert reply.json()["message"].startswith(f"{field}: "), reply.text
    assert not [word for word in INTERNALS if word in reply.text], reply.text


def test_hostile_values_in_signed_in_calls_are_refused(signed_in: EdgeClient) -> None:
    with pytest.raises(ApiError) as refusal:
        signed_in.request("POST", "/api/upload/url", json={"filename": "a\u0000.mp4", "size": 10})

    assert (refusal.value.status, refusal.value.reason) == (400, "NUL_CHARACTER")
    assert str(refusal.value).startswith("filename: ")
