"""Access-token verification: RS256 JWTs checked against a JWKS (the local issuer's or Cognito's)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from videoforge.kit.errors import Unauthenticated
from videoforge.kit.lru_cache import LruCache
from videoforge.kit.principal import Principal

VERIFIED_TOKENS_KEPT = 10_000


def load_private_key(path: Path) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def key_id(private_key: RSAPrivateKey) -> str:
    """A stable kid: the RFC 7638 thumbprint of the public key."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    members = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def jwks_document(private_key: RSAPrivateKey) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": key_id(private_key), "use": "sig", "alg": "RS256"})
    return {"keys": [jwk]}


class TokenVerifier:
    """Checks signature (RS256 only), expiry, issuer and audience; maps claims to a Principal."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        key_lookup: Callable[[str], Any],
        role_claim: str = "role",
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._key_lookup = key_lookup
        self._role_claim = role_claim
        # A client sends one token on many calls: its signature is checked once, its expiry on every call.
        self._verified: LruCache[str, tuple[Principal, float]] = LruCache(VERIFIED_TOKENS_KEPT)

    @classmethod
    def from_jwks(cls, jwks: dict[str, Any], **kwargs: Any) -> TokenVerifier:
        keys = {k["kid"]: jwt.PyJWK(k).key for k in jwks["keys"]}

        def lookup(kid: str) -> Any:
            if kid not in keys:
                raise Unauthenticated("The token was signed by an unknown key.", "UNKNOWN_SIGNING_KEY")
            return keys[kid]

        return cls(key_lookup=lookup, **kwargs)

    @classmethod
    def from_jwks_url(cls, url: str, **kwargs: Any) -> TokenVerifier:
        client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)

        def lookup(kid: str) -> Any:
            try:
                return client.get_signing_key(kid).key
            except jwt.PyJWKClientError as exc:
                raise Unauthenticated("The token was signed by an unknown key.", "UNKNOWN_SIGNING_KEY") from exc

        return cls(key_lookup=lookup, **kwargs)

    def verify(self, token: str) -> Principal:
        kept = self._verified.get(token)
        if kept is not None and time.time() < kept[1]:
            return kept[0]
        principal, expires = self._verify_signed(token)
        self._verified.put(token, (principal, expires))
        return principal

    def _verify_signed(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The access token is malformed.", "INVALID_TOKEN") from exc
        # Only RS256: refuses `alg: none` and HMAC-with-the-public-key confusion before any key is used.
        if header.get("alg") != "RS256" or not header.get("kid"):
            raise Unauthenticated("The access token must be RS256 with a key id.", "INVALID_TOKEN")
        key = self._key_lookup(header["kid"])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The access token expired; refresh it or sign in again.", "TOKEN_EXPIRED") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"The access token was refused: {exc}.", "INVALID_TOKEN") from exc
        principal = Principal(user_id=claims["sub"], role=self._role(claims), email=claims.get("email", ""))
        return principal, float(claims["exp"])

    def _role(self, claims: dict[str, Any]) -> str:
        # Cognito puts groups in a list claim (`cognito:groups`); the local issuer writes one role string.
        value = claims.get(self._role_claim, "user")
        values = value if isinstance(value, list) else [value]
        return "admin" if "admin" in values else "user"
