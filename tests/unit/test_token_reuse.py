"""A token's signature is checked once per process; its expiry still on every call."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.unit.test_tokens import AUDIENCE, ISSUER, token
from videoforge.kit.errors import Unauthenticated
from videoforge.kit.tokens import TokenVerifier


def test_a_verified_token_is_refused_once_it_expires() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    lookups: list[str] = []

    def public_key(kid: str) -> Any:
        lookups.append(kid)
        return key.public_key()

    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, key_lookup=public_key)
    short = token(key, exp=int(time.time()) + 2)
    assert verifier.verify(short).user_id == verifier.verify(short).user_id == "u1"
    assert len(lookups) == 1, "the second call did not check the signature again"
    time.sleep(2.1)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(short)
