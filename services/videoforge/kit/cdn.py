"""CloudFront-format signed URLs: one custom policy with a wildcard covers every object of a video."""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from botocore.signers import CloudFrontSigner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from videoforge.kit.lru_cache import LruCache
from videoforge.kit.tokens import load_private_key

GRANTS_KEPT = 10_000
MAX_GRANT_REUSE_SECONDS = 60


@dataclass(frozen=True)
class SignedGrant:
    """The query parameters that let a CDN serve every object under one prefix until `expires`."""

    query: dict[str, str]
    expires: dt.datetime | None = None

    @property
    def query_string(self) -> str:
        return urlencode(self.query)


class MediaSigner:
    def __init__(self, private_key: RSAPrivateKey, *, key_pair_id: str, base_url: str) -> None:
        self._key = private_key
        self._signer = CloudFrontSigner(key_pair_id, self._rsa_sha1)
        self.base_url = base_url.rstrip("/")
        # An RSA signature costs more than the rest of a hot read: one grant per folder and lifetime serves
        # every request until it is a tenth of its life old (at most a minute), so each keeps 90% of its life.
        self._grants: LruCache[tuple[str, int], SignedGrant] = LruCache(GRANTS_KEPT)

    @classmethod
    def from_file(cls, path: Path, *, key_pair_id: str, base_url: str) -> MediaSigner:
        return cls(load_private_key(path), key_pair_id=key_pair_id, base_url=base_url)

    def _rsa_sha1(self, message: bytes) -> bytes:
        # CloudFront signatures are RSA-SHA1 by definition of the format.
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA1())

    def grant(self, prefix: str, seconds: int) -> SignedGrant:
        now = dt.datetime.now(dt.UTC)
        kept = self._grants.get((prefix, seconds))
        least_left = dt.timedelta(seconds=seconds - min(MAX_GRANT_REUSE_SECONDS, seconds // 10))
        if kept is not None and kept.expires is not None and kept.expires - now >= least_left:
            return kept
        grant = self._sign_grant(prefix, now.replace(microsecond=0) + dt.timedelta(seconds=seconds))
        self._grants.put((prefix, seconds), grant)
        return grant

    def _sign_grant(self, prefix: str, expires: dt.datetime) -> SignedGrant:
        resource = f"{self.base_url}/{prefix.strip('/')}/*"
        policy = self._signer.build_policy(resource, expires)
        signed = self._signer.generate_presigned_url(resource, policy=policy)
        query = dict(part.split("=", 1) for part in signed.split("?", 1)[1].split("&"))
        return SignedGrant(query, expires)

    def url(self, key: str, grant: SignedGrant) -> str:
        return f"{self.base_url}/{key.lstrip('/')}?{grant.query_string}"

    def verifier(self, key_pair_id: str) -> GrantVerifier:
        return GrantVerifier(self._key.public_key(), key_pair_id=key_pair_id)

    def sign_key(self, key: str, seconds: int) -> str:
        """A URL for one object, granting its whole folder (the usual unit: one video's outputs)."""
        folder = key.rsplit("/", 1)[0]
        return self.url(key, self.grant(folder, seconds))


class GrantRefused(Exception):
    """A signed URL that does not grant what it was used for; the message says why."""


def _cloudfront_b64decode(value: str) -> bytes:
    # CloudFront's URL-safe base64 swaps + = / for - _ ~.
    standard = value.replace("-", "+").replace("_", "=").replace("~", "/")
    return base64.b64decode(standard)


class GrantVerifier:
    """Checks a CloudFront-format grant against the public key: signature, expiry, resource."""

    def __init__(self, public_key: RSAPublicKey, *, key_pair_id: str) -> None:
        self._key, self._key_pair_id = public_key, key_pair_id

    def verify(self, query: dict[str, str], url: str) -> None:
        policy_b64, signature_b64 = query.get("Policy", ""), query.get("Signature", "")
        if not policy_b64 or not signature_b64:
            raise GrantRefused("missing Policy or Signature")
        if query.get("Key-Pair-Id") != self._key_pair_id:
            raise GrantRefused("unknown Key-Pair-Id")
        try:
            policy_bytes, signature = _cloudfront_b64decode(policy_b64), _cloudfront_b64decode(signature_b64)
            self._key.verify(signature, policy_bytes, padding.PKCS1v15(), hashes.SHA1())
            statement = json.loads(policy_bytes)["Statement"][0]
            resource = statement["Resource"]
            expires = int(statement["Condition"]["DateLessThan"]["AWS:EpochTime"])
        except (InvalidSignature, ValueError, KeyError, IndexError, TypeError) as exc:
            raise GrantRefused("bad signature or policy") from exc
        if time.time() >= expires:
            raise GrantRefused("expired")
        if not fnmatch.fnmatchcase(url, resource):
            raise GrantRefused("the grant does not cover this path")
