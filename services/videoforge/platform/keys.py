"""Secrets of a one-machine platform: generated once into the data directory, reused on every later run.

Nothing here has a default value: a fresh data directory gets fresh keys, readable by its owner only.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_KEY_BITS = 2048
CONTENT_KEY_SECRET_BYTES = 32  # an AES-256 key
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class LocalSecrets:
    jwt_private_key_file: Path  # signs access and refresh tokens (RS256)
    cdn_private_key_file: Path  # signs media URLs the edge checks (CloudFront format)
    content_key_secret_file: Path  # seals protected videos' content keys in the database (32 bytes)
    s3: S3Credentials  # the embedded object store's only identity


def ensure_local_secrets(data_dir: Path) -> LocalSecrets:
    """Generate what is missing under ``data_dir/secrets`` and return all of it."""
    directory = data_dir / "secrets"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    jwt_key = directory / "jwt-signing-key.pem"
    cdn_key = directory / "cdn-signing-key.pem"
    s3_file = directory / "s3-credentials.json"
    content_key_secret = directory / "content-key-secret.bin"
    if not content_key_secret.exists():
        write_private(content_key_secret, secrets.token_bytes(CONTENT_KEY_SECRET_BYTES))
    for key_file in (jwt_key, cdn_key):
        if not key_file.exists():
            write_private(key_file, _rsa_private_key_pem())
    if not s3_file.exists():
        generated = {
            "access_key_id": "VF" + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(18)),
            "secret_access_key": secrets.token_urlsafe(30),
        }
        write_private(s3_file, json.dumps(generated).encode())
    stored = json.loads(s3_file.read_text())
    return LocalSecrets(
        jwt_private_key_file=jwt_key,
        cdn_private_key_file=cdn_key,
        content_key_secret_file=content_key_secret,
        s3=S3Credentials(stored["access_key_id"], stored["secret_access_key"]),
    )


def _rsa_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_private(path: Path, content: bytes) -> None:
    """Write a 0600 file atomically: a run killed half-way leaves no truncated key behind."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
