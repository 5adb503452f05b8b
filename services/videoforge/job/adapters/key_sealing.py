"""Content keys sealed at rest: AES-256-GCM under the platform's key-sealing secret, bound to their video, so a
copy of the database alone yields no key and a sealed key moved to another video's row does not open."""

from __future__ import annotations

import base64
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
        """From a file of 32 bytes, raw or in base64 (as a Kubernetes Secret's stringData holds them)."""
        content = path.read_bytes()
        return cls(content if len(content) == SECRET_BYTES else base64.b64decode(content.strip(), validate=True))

    def seal(self, key: bytes, video_id: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, video_id.encode())

    def open(self, sealed: bytes, video_id: str) -> bytes:
        """Raises ValueError when the sealed key was not sealed for this video with this secret."""
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], video_id.encode())
        except InvalidTag as error:
            raise ValueError("the content key does not open with this secret for this video") from error
