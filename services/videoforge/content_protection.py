"""A protected video's content key, shared by the job service (which makes and keeps it), the worker (which
encrypts with it) and the streaming service (which hands it to grant holders); and how players spell it."""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from dataclasses import dataclass, field

KEY_BYTES = 16  # AES-128, for both CENC and HLS
_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


@dataclass(frozen=True)
class ContentKey:
    """A 16-byte AES key and its 16-byte key ID (CENC's KID); one per protected video."""

    key_id: bytes
    key: bytes = field(repr=False)  # never in a log line

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_BYTES or len(self.key) != KEY_BYTES:
            raise ValueError(f"a content key and its ID are {KEY_BYTES} bytes each")

    @classmethod
    def generate(cls) -> ContentKey:
        return cls(secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES))

    @property
    def kid_uuid(self) -> str:
        """The key ID as an MPD's `cenc:default_KID` writes it (8-4-4-4-12 hex)."""
        return str(uuid.UUID(bytes=self.key_id))


def b64url(data: bytes) -> str:
    """Base64url without padding, as JSON Web Keys and ClearKey licence requests write bytes."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def from_b64url(text: str) -> bytes:
    """Raises ValueError for anything that is not base64url."""
    padded = text.translate(_URL_SAFE_TO_STANDARD) + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"not base64url: {text[:40]!r}") from error
