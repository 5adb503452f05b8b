"""Large, valid MP4s made cheaply from a small one: the same samples, then any amount of padding inside the
`mdat` box, then the `moov` index at the very end. A reader must seek past the padding to find the index, as it
must for any MP4 a camera wrote without "faststart".

FFmpeg writes `ftyp`, an 8-byte `free` box, `mdat`, `moov`. The `free` box is there so `mdat` can grow a 64-bit
size in place: here it does, so every sample stays at the offset the index names.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PaddedMp4:
    """`head`, then `padding` zero bytes, then `tail`: one valid MP4 of `size` bytes."""

    head: bytes
    padding: int
    tail: bytes

    @property
    def size(self) -> int:
        return len(self.head) + self.padding + len(self.tail)

    def chunks(self, chunk_bytes: int = 8 * 1024 * 1024) -> object:
        """The file's bytes in order, without holding the padding in memory."""
        yield self.head
        zeros = bytes(min(chunk_bytes, self.padding))
        left = self.padding
        while left:
            step = min(left, len(zeros))
            yield zeros[:step]
            left -= step
        yield self.tail


def _boxes(data: bytes) -> list[tuple[str, int, int]]:
    """Top-level boxes as (type, offset, size)."""
    boxes, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append((kind.decode("latin-1"), offset, size or len(data) - offset))
        offset += size or len(data)
    return boxes


def padded_mp4(source: Path, size: int) -> PaddedMp4:
    """`source` (an MP4 with its index at the end, as FFmpeg writes by default) grown to `size` bytes."""
    data = source.read_bytes()
    kinds = [kind for kind, _, _ in _boxes(data)]
    if kinds[-3:] != ["free", "mdat", "moov"] or _boxes(data)[-3][2] != 8:
        raise ValueError(f"{source.name} is laid out as {kinds}, not ftyp, free(8), mdat, moov")
    (_, free_at, _), (_, mdat_at, mdat_size), (_, moov_at, _) = _boxes(data)[-3:]
    samples = data[mdat_at + 8 : mdat_at + mdat_size]
    tail = data[moov_at:]
    padding = size - (free_at + 16 + len(samples)) - len(tail)
    if padding < 0:
        raise ValueError(f"{size} bytes is smaller than {source.name} itself")
    header = struct.pack(">I4sQ", 1, b"mdat", 16 + len(samples) + padding)  # where `free` and `mdat` were
    return PaddedMp4(data[:free_at] + header + samples, padding, tail)
