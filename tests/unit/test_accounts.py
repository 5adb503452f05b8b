"""Account use cases: local sign-in, and what changes when an external provider issues the tokens."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.identity import InMemoryUserRepository
from videoforge.identity.adapters.jwt_issuer import RsaTokenIssuer
from videoforge.identity.adapters.passwords import Argon2PasswordHasher
from videoforge.identity.service_layer.accounts import Accounts
from videoforge.kit.errors import AlreadyExists, FailedPrecondition, Unauthenticated


def accounts(*, external: bool = False) -> Accounts:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = None if external else RsaTokenIssuer(key, issuer="vf", audience="vf", expires_in=60)
    return Accounts(InMemoryUserRepository(), Argon2PasswordHasher(), issuer, refresh_token_days=1)


async def test_unknown_email_and_wrong_password_are_refused_alike() -> None:
    local = accounts()
    await local.register("a@example.com", "good-pass-1")
    with pytest.raises(Unauthenticated) as wrong:
        await local.login("a@example.com", "bad-pass-1")
    with pytest.raises(Unauthenticated) as unknown:
        await local.login("b@example.com", "good-pass-1")
    assert (wrong.value.message, wrong.value.reason) == (unknown.value.message, unknown.value.reason)


async def test_an_email_is_taken_once_whatever_its_case() -> None:
    local = accounts()
    await local.register("a@example.com", "good-pass-1")
    with pytest.raises(AlreadyExists):
        await local.register("A@Example.com", "good-pass-1")


async def test_with_an_external_provider_local_sign_in_points_there() -> None:
    external = accounts(external=True)
    for attempt in (external.register("a@example.com", "good-pass-1"), external.login("a@example.com", "x"),
                    external.refresh("token")):  # fmt: skip
        with pytest.raises(FailedPrecondition) as refused:
            await attempt
        assert refused.value.reason == "EXTERNAL_IDENTITY_PROVIDER"
    # Operators can still create accounts (e.g. mirrored users); only token issuing is the provider's.
    assert (await external.create_user("ops@example.com", "good-pass-1", role="admin")).role == "admin"
    assert external.jwks() == {"keys": []}


async def test_password_hashing_leaves_the_event_loop_free_and_runs_only_so_many_at_once() -> None:
    others = {thread for thread in threading.enumerate() if thread.name.startswith("argon2")}
    hasher = Argon2PasswordHasher(concurrency=2)
    stored = await hasher.hash("good-pass-1")
    loop_gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            loop_gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    results = await asyncio.gather(*(hasher.verify(stored, "good-pass-1") for _ in range(8)))
    elapsed = time.perf_counter() - started
    ticker.cancel()

    assert results == [True] * 8
    # Eight hashes on the loop would have blocked it for all of `elapsed`; off it, it keeps ticking (with
    # room for a busy machine).
    assert max(loop_gaps) < elapsed / 2
    # Other tests' hashers may still hold idle threads; this one started two, however many hashes waited.
    ours = {thread for thread in threading.enumerate() if thread.name.startswith("argon2")} - others
    assert len(ours) == 2
