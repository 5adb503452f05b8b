"""Where a CMAF segment's keyframe lies: read from the boxes of its first fragment (ISO/IEC 14496-12 moof,
traf, tfhd, trun), for the byte ranges of I-frame playlists."""

from __future__ import annotations

import struct

# Bytes of a segment that hold its boxes up to the first fragment's sample table, whatever the segment's length.
SEGMENT_HEAD_BYTES = 64 * 1024
_TRUN_DATA_OFFSET, _TRUN_FIRST_SAMPLE_FLAGS = 0x1, 0x4
_TRUN_DURATION, _TRUN_SIZE = 0x100, 0x200
_TFHD_BASE_OFFSET, _TFHD_DESCRIPTION, _TFHD_DURATION, _TFHD_SIZE = 0x1, 0x2, 0x8, 0x10


def keyframe_range(head: bytes) -> tuple[int, int]:
    """(offset, length) of a segment's first `moof` through the end of its first sample: the keyframe each
    segment starts with, as an I-frame playlist names it. `head` is the segment's first bytes."""
    moof = next((at, size) for at, size, kind in _boxes(head, 0, len(head)) if kind == b"moof")
    traf = next((at, size) for at, size, kind in _boxes(head, moof[0] + 8, sum(moof)) if kind == b"traf")
    boxes = {kind: at for at, _, kind in _boxes(head, traf[0] + 8, sum(traf))}
    default_size = _tfhd_default_size(head, boxes[b"tfhd"])
    at = boxes[b"trun"]
    flags = struct.unpack_from(">I", head, at + 8)[0] & 0xFFFFFF
    offset = at + 16
    data_offset = struct.unpack_from(">i", head, offset)[0] if flags & _TRUN_DATA_OFFSET else 0
    offset += 4 * bool(flags & _TRUN_DATA_OFFSET) + 4 * bool(flags & _TRUN_FIRST_SAMPLE_FLAGS)
    offset += 4 * bool(flags & _TRUN_DURATION)
    size = struct.unpack_from(">I", head, offset)[0] if flags & _TRUN_SIZE else default_size
    # The muxer bases data offsets on the moof (default-base-is-moof), so the moof, the mdat header and
    # the first sample are one run of bytes.
    return moof[0], data_offset + size


def _tfhd_default_size(head: bytes, at: int) -> int:
    flags = struct.unpack_from(">I", head, at + 8)[0] & 0xFFFFFF
    offset = at + 16 + 8 * bool(flags & _TFHD_BASE_OFFSET) + 4 * bool(flags & _TFHD_DESCRIPTION)
    offset += 4 * bool(flags & _TFHD_DURATION)
    return struct.unpack_from(">I", head, offset)[0] if flags & _TFHD_SIZE else 0


def _boxes(data: bytes, start: int, end: int) -> list[tuple[int, int, bytes]]:
    found, at = [], start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        if size < 8:
            break  # a box to the end of the file, or a broken one: nothing after it is read
        found.append((at, size, kind))
        at += size
    return found
