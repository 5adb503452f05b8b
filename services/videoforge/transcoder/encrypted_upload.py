"""An `aes-128` video's segments are encrypted on their way to the store: the copy on local disk stays in the
clear for the steps that read it (joined renditions, images, I-frame byte ranges)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from videoforge.media_model import EncodingOptions
from videoforge.transcoder.domain.hls_encryption import encrypt_segment, media_segment_number
from videoforge.transcoder.presentation_upload import Upload


def encrypting_upload(upload: Upload, options: EncodingOptions, staging: Path) -> Upload:
    """`upload` itself, or for an `aes-128` video one that stores each media segment encrypted (staged under
    `staging` first); init segments, manifests and images go up as they are."""
    if options.protection != "aes-128":
        return upload
    if options.content_key is None:
        raise ValueError("an aes-128 video is encrypted with its content key, and none was given")
    key = options.content_key.key

    async def encrypted(path: Path, relative: str) -> None:
        number = media_segment_number(relative)
        if number is None:
            await upload(path, relative)
            return
        staged = staging / relative
        await asyncio.to_thread(_write_encrypted, path, staged, key, number)
        await upload(staged, relative)

    return encrypted


def _write_encrypted(source: Path, out: Path, key: bytes, number: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(encrypt_segment(source.read_bytes(), key, number))
