"""The local issuer: RS256 access tokens with a kid, and the JWKS that verifies them."""

from __future__ import annotations

import secrets
import time

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from videoforge.identity.domain.accounts import User
from videoforge.identity.domain.ports import TokenIssuer
from videoforge.kit.tokens import jwks_document, key_id


class RsaTokenIssuer(TokenIssuer):
    def __init__(self, private_key: RSAPrivateKey, *, issuer: str, audience: str, expires_in: int) -> None:
        self._key, self._issuer, self._audience = private_key, issuer, audience
        self._kid = key_id(private_key)
        self.expires_in = expires_in

    def access_token(self, user: User) -> str:
        now = int(time.time())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user.id,
            "email": user.email,
            "role": user.role,
            "iat": now,
            "exp": now + self.expires_in,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})

    def jwks(self) -> dict[str, object]:
        return jwks_document(self._key)
