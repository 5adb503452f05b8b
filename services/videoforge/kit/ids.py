"""Opaque, non-sequential identifiers: nothing about one id tells another."""

import hashlib
import secrets


def new_id() -> str:
    return secrets.token_hex(12)


def id_named_by(identity: str) -> str:
    """An id shaped as `new_id`'s, the same for the same `identity`: what a repeated create (a retry after a lost
    reply) finds already made."""
    return hashlib.sha256(identity.encode()).hexdigest()[:24]
