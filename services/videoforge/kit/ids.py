"""Opaque, non-sequential identifiers: nothing about one id tells another."""

import secrets


def new_id() -> str:
    return secrets.token_hex(12)
