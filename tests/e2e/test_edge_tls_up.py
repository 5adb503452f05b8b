"""`videoforge up --tls-cert --tls-key --http-port`: the whole platform behind an HTTPS edge, as a person runs it
when no load balancer terminates TLS for them."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.certificates import self_signed_certificate
from tests.fixtures.platform import RunningPlatform, start_platform, stop_platform
from videoforge.platform.ports import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def redirect_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def tls_platform(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path], redirect_port: int
) -> Iterator[RunningPlatform]:
    cert_file, key_file = certificate
    arguments = ["--tls-cert", str(cert_file), "--tls-key", str(key_file), "--http-port", str(redirect_port)]
    running = start_platform(tmp_path_factory.mktemp("vf-tls"), free_port(), *arguments, tls_certificate=cert_file)
    try:
        yield running
    finally:
        stop_platform(running.process)


def test_a_person_signs_up_and_browses_over_https(
    tls_platform: RunningPlatform, certificate: tuple[Path, Path]
) -> None:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    with httpx.Client(base_url=tls_platform.url, verify=trusted, trust_env=False, timeout=30) as client:
        email = f"tls-{uuid.uuid4().hex[:8]}@example.com"
        registered = client.post("/api/auth/register", json={"email": email, "password": "a-good-pass-1"})
        token = registered.json()["accessToken"]
        videos = client.get("/v1/videos", headers={"Authorization": f"Bearer {token}"})
        web_app = client.get("/")

    assert registered.status_code == 200, registered.text
    assert videos.status_code == 200 and videos.json().get("videos", []) == []
    assert web_app.status_code == 200 and "<html" in web_app.text.lower()


def test_the_plain_http_port_sends_people_to_https(tls_platform: RunningPlatform, redirect_port: int) -> None:
    answer = httpx.get(f"http://127.0.0.1:{redirect_port}/watch?v=1", trust_env=False)

    assert answer.status_code == 301
    assert answer.headers["location"] == f"{tls_platform.url}/watch?v=1"
