"""Whole-segment AES-128 for HLS (RFC 8216 4.3.2.4): each media segment encrypted in CBC mode with PKCS#7
padding under the video's key, with its media sequence number as IV, which the playlists therefore leave out.
Init segments stay in the clear: each playlist's EXT-X-MAP comes before its EXT-X-KEY.

The muxer numbers segment files (`{stream}/{n}.m4s`) from 1, the number its playlists' EXT-X-MEDIA-SEQUENCE
starts from: a segment's file number is its media sequence number.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_MEDIA_SEGMENT = re.compile(r"[^/]+/(?P<number>\d+)\.m4s")
_BLOCK_BITS = 128


def media_segment_number(relative: str) -> int | None:
    """The sequence number of a media segment by its path in the output set; None for any other file."""
    match = _MEDIA_SEGMENT.fullmatch(relative)
    return int(match["number"]) if match else None


def sequence_iv(number: int) -> bytes:
    """The IV a player uses for a segment whose key tag names none: its media sequence number, 128-bit big-endian."""
    return number.to_bytes(16, "big")


def encrypt_segment(data: bytes, key: bytes, number: int) -> bytes:
    padder = padding.PKCS7(_BLOCK_BITS).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(sequence_iv(number))).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def decrypt_segment(data: bytes, key: bytes, number: int) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(sequence_iv(number))).decryptor()
    unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
    return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
