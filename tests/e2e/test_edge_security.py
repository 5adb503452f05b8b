"""The edge of a running platform turns away bad tokens and floods before any service sees them.

Refusals by the edge say "The access token was refused (...)": the services word theirs differently. Rate
limits are per client address, so the flood comes from an address of its own and the session's other tests,
all calling from 127.0.0.1, keep their buckets.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.platform import RunningPlatform
from videoforge.gateway.local_replies import RATE_LIMITED_MESSAGE
from videoforge.kit.settings import Settings
from videoforge.kit.tokens import key_id, load_private_key
from videoforge.platform.keys import ensure_local_secrets

pytestmark = pytest.mark.e2e
PASSWORD = "correct-horse-9"
REFUSED = "The access token was refused ("
PROTECTED = "/api/gallery/my-videos"
PUBLIC = "/api/gallery/videos"


@pytest.fixture(scope="module")
def session(platform: RunningPlatform) -> dict:
    email = f"edge-{uuid.uuid4().hex[:10]}@example.com"
    reply = httpx.post(f"{platform.url}/api/auth/register", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return reply.json()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def assert_refused_by_the_edge(platform: RunningPlatform, token: str) -> None:
    for path in (PROTECTED, PUBLIC):
        reply = httpx.get(f"{platform.url}{path}", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401, (path, reply.text)
        assert reply.json()["code"] == 16
        assert reply.json()["message"].startswith(REFUSED), (path, reply.json())


def test_the_platforms_own_token_is_accepted(platform: RunningPlatform, session: dict) -> None:
    reply = httpx.get(f"{platform.url}{PROTECTED}", headers={"Authorization": f"Bearer {session['accessToken']}"})

    assert reply.status_code == 200, reply.text


def test_a_token_signed_by_another_key_is_refused_by_the_edge(platform: RunningPlatform, session: dict) -> None:
    genuine = session["accessToken"]
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Same claims, same key id: only the signature gives it away.
    kid = jwt.get_unverified_header(genuine)["kid"]
    forged = jwt.encode(claims_of(genuine), impostor, algorithm="RS256", headers={"kid": kid})

    assert_refused_by_the_edge(platform, forged)


def test_an_expired_token_is_refused_by_the_edge(platform: RunningPlatform, session: dict) -> None:
    key = load_private_key(ensure_local_secrets(platform.data_dir).jwt_private_key_file)
    an_hour_ago = int(time.time()) - 3600
    claims = {**claims_of(session["accessToken"]), "iat": an_hour_ago - 900, "exp": an_hour_ago}
    expired = jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id(key)})

    assert_refused_by_the_edge(platform, expired)


def test_an_unsigned_token_is_refused_by_the_edge(platform: RunningPlatform, session: dict) -> None:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    header = {**jwt.get_unverified_header(session["accessToken"]), "alg": "none"}
    unsigned = f"{part(header)}.{part(claims_of(session['accessToken']))}."

    assert_refused_by_the_edge(platform, unsigned)


def test_hammering_login_from_one_client_gets_a_json_429(platform: RunningPlatform, session: dict) -> None:
    limit = Settings().edge_login_rate_limit_per_minute  # what `up` read from the same environment
    # Credential stuffing: one address, many accounts. Unknown ones are answered at once, so the flood is quick.
    guesses = [{"email": f"victim-{n}@example.com", "password": "wrong-guess-1"} for n in range(limit + 20)]
    transport = httpx.HTTPTransport(local_address="127.0.0.2")

    with (
        httpx.Client(base_url=platform.url, transport=transport, timeout=30) as attacker,
        ThreadPoolExecutor(16) as pool,
    ):
        replies = list(pool.map(lambda guess: attacker.post("/api/auth/login", json=guess), guesses))
    neighbour = httpx.post(
        f"{platform.url}/api/auth/login", json={"email": session["user"]["email"], "password": PASSWORD}
    )

    statuses = [reply.status_code for reply in replies]
    assert set(statuses) == {401, 429}, statuses
    # The whole burst gets through to the service, and hardly more: the bucket refills one token at a time.
    assert limit <= statuses.count(401) < limit + 20
    limited = next(reply for reply in replies if reply.status_code == 429)
    assert limited.json() == {"code": 8, "message": RATE_LIMITED_MESSAGE, "error": RATE_LIMITED_MESSAGE}
    assert int(limited.headers["retry-after"]) >= 1
    # Another client, here the address every other test calls from, signs in as usual.
    assert neighbour.status_code == 200, neighbour.text
