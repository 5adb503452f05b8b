"""Content keys sealed at rest: AES-256-GCM under the platform's key-sealing secret, bound to their video, so a
copy of the database alone yields no key and a sealed key moved to another video's row does not open."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_BYTES = 32
NONCE_BYTES = 12


class KeySealer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"the key-sealing secret must be {SECRET_BYTES} bytes")
        self._aead = AESGCM(secret)

    @classmethod
    def from_file(cls, path: Path) -> KeySealer:
        return cls(path.read_bytes())

    def seal(self, key: bytes, video_id: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, video_id.encode())

    def open(self, sealed: bytes, video_id: str) -> bytes:
        """Raises ValueError when the sealed key was not sealed for this video with this secret."""
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], video_id.encode())
        except InvalidTag as error:
            raise ValueError("the content key does not open with this secret for this video") from error
