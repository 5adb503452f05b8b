"""Access-token checks: only RS256 from a known key, for our issuer and audience, not expired."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from videoforge.kit.errors import Unauthenticated
from videoforge.kit.tokens import TokenVerifier, jwks_document, key_id

ISSUER, AUDIENCE = "https://issuer.example", "client-123"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def verifier(key: rsa.RSAPrivateKey) -> TokenVerifier:
    return TokenVerifier.from_jwks(jwks_document(key), issuer=ISSUER, audience=AUDIENCE, role_claim="cognito:groups")


def token(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u1", "exp": int(time.time()) + 60, "email": "a@b.c"}
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id(key)})


def test_a_good_token_names_the_user(verifier: TokenVerifier, key: rsa.RSAPrivateKey) -> None:
    principal = verifier.verify(token(key))
    assert (principal.user_id, principal.role, principal.email) == ("u1", "user", "a@b.c")


def test_cognito_admin_group_maps_to_the_admin_role(verifier: TokenVerifier, key: rsa.RSAPrivateKey) -> None:
    assert verifier.verify(token(key, **{"cognito:groups": ["editors", "admin"]})).is_admin


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 10}, "TOKEN_EXPIRED"),
        ({"aud": "someone-else"}, "INVALID_TOKEN"),
        ({"iss": "https://evil.example"}, "INVALID_TOKEN"),
    ],
)
def test_expired_or_foreign_tokens_are_refused(
    verifier: TokenVerifier, key: rsa.RSAPrivateKey, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(token(key, **overrides))
    assert refused.value.reason == reason


def test_a_token_signed_by_another_key_is_refused(verifier: TokenVerifier, key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "u1", "exp": int(time.time()) + 60}, other,
                        algorithm="RS256", headers={"kid": key_id(key)})  # fmt: skip
    with pytest.raises(Unauthenticated):
        verifier.verify(forged)


def test_alg_none_and_hmac_tokens_are_refused(verifier: TokenVerifier, key: rsa.RSAPrivateKey) -> None:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "admin", "exp": int(time.time()) + 60}
    unsigned = f"{b64({'alg': 'none', 'kid': key_id(key)})}.{b64(claims)}."
    hmac = jwt.encode(claims, "shared-secret-of-32-bytes-or-more", algorithm="HS256", headers={"kid": key_id(key)})
    for bad in (unsigned, hmac, "not.a.token", ""):
        with pytest.raises(Unauthenticated):
            verifier.verify(bad)
