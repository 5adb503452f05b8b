"""A corpus of hostile and awkward uploads, made on demand: what each file is, and what the platform must do.

Each case is either refused with a reason that starts as `refusal` says, or (`refusal` None) a legitimate video
however odd its name or contents, which must transcode. Playlists, manifests and scripts are disguised as `.mp4`
and point at local files or inline data, so following any of them would show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from tests.media_factory import QUICK_H264, MediaFactory

PASSWD = b"file:///etc/passwd"
DATA_URI = b"data:video/mp4;base64,AAAAIGZ0eXBpc29t"
MPD = b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period><BaseURL>file:///etc/</BaseURL>'
# A tag of 2 MiB: more than a probe report may be, if it were ever included in one.
GIANT_TAG_BYTES = 2 * 1024**2


@dataclass(frozen=True)
class HostileCase:
    name: str
    filename: str
    make: Callable[[MediaFactory, Path], Awaitable[Path]]
    refusal: str | None

    @property
    def legitimate(self) -> bool:
        return self.refusal is None


def _bytes(data: bytes) -> Callable[[MediaFactory, Path], Awaitable[Path]]:
    async def make(_: MediaFactory, path: Path) -> Path:
        await asyncio.to_thread(path.write_bytes, data)
        return path

    return make


def _ffmpeg(*argv: str) -> Callable[[MediaFactory, Path], Awaitable[Path]]:
    async def make(factory: MediaFactory, path: Path) -> Path:
        return await factory.render(path, list(argv))

    return make


def _from_clip(
    clip: Callable[[MediaFactory], Awaitable[Path]], change: Callable[[bytes], bytes] = lambda data: data
) -> Callable[[MediaFactory, Path], Awaitable[Path]]:
    async def make(factory: MediaFactory, path: Path) -> Path:
        data = await asyncio.to_thread((await clip(factory)).read_bytes)
        await asyncio.to_thread(path.write_bytes, change(data))
        return path

    return make


def _with_giant_tag(factory: MediaFactory, path: Path) -> Awaitable[Path]:
    metadata = path.with_suffix(".ffmeta")
    metadata.write_text(";FFMETADATA1\ncomment=" + "x" * GIANT_TAG_BYTES + "\n")
    clip = _ffmpeg(*_TESTSRC, "-f", "ffmetadata", "-i", str(metadata), "-map", "0:v", "-map_metadata", "1", *QUICK_H264)
    return clip(factory, path)


def _many_streams(count: int) -> Callable[[MediaFactory, Path], Awaitable[Path]]:
    audio = ["-f", "lavfi", "-i", "sine=duration=0.2:sample_rate=8000"]
    maps = [arg for _ in range(count - 1) for arg in ("-map", "1:a")]
    return _ffmpeg(*_TESTSRC, *audio, "-map", "0:v", *maps, *QUICK_H264, "-c:a", "pcm_s16le")


def _references_appended(data: bytes) -> bytes:
    # A top-level `free` box full of references: a demuxer that followed anything in a file would follow these.
    payload = b"\n".join([PASSWD, DATA_URI, b"concat:/etc/passwd|/etc/hosts", b"http://169.254.169.254/"])
    return data + (8 + len(payload)).to_bytes(4, "big") + b"free" + payload


_TESTSRC = ("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1")
_ONE_SECOND = _ffmpeg(*_TESTSRC, *QUICK_H264)
_READ_FAILED = "The file could not be read as a video"

CASES = [
    # Playlists, manifests and scripts with .mp4 names: refused by their first bytes, before any demuxer.
    HostileCase(
        "hls to a local file",
        "holiday.mp4",
        _bytes(b"#EXTM3U\n#EXTINF:10,\n" + PASSWD + b"\n"),
        "The file is an HLS playlist",
    ),
    HostileCase(
        "hls to inline data",
        "inline.mp4",
        _bytes(b"#EXTM3U\n#EXTINF:1,\n" + DATA_URI + b"\n"),
        "The file is an HLS playlist",
    ),
    HostileCase(
        "hls behind a byte order mark",
        "bom.mp4",
        _bytes(b"\xef\xbb\xbf\r\n #EXTM3U\n" + PASSWD),
        "The file is an HLS playlist",
    ),
    HostileCase(
        "dash with a file: base",
        "manifest.mp4",
        _bytes(b'<?xml version="1.0"?>\n' + MPD),
        "The file is a DASH manifest",
    ),
    HostileCase("dash without a declaration", "bare.mp4", _bytes(MPD), "The file is a DASH manifest"),
    HostileCase(
        "ffconcat script",
        "concat.mp4",
        _bytes(b"ffconcat version 1.0\nfile '" + PASSWD + b"'\n"),
        "The file is an FFmpeg concat script",
    ),
    HostileCase(
        "concat list without a header",
        "list.mp4",
        _bytes(b"file '/etc/passwd'\nfile '/etc/hosts'\n"),
        "The file is text",
    ),
    HostileCase("concat protocol URL", "protocol.mp4", _bytes(b"concat:/etc/passwd|/etc/hosts"), "The file is text"),
    HostileCase(
        "sdp session",
        "stream.mp4",
        _bytes(b"v=0\r\no=- 0 0 IN IP4 10.0.0.1\r\nm=video 5004 RTP/AVP 96\r\n"),
        "The file is an SDP session",
    ),
    HostileCase(
        "html error page",
        "download.mp4",
        _bytes(b"<!DOCTYPE html><html><body>Moved</body></html>"),
        "The file is an HTML page",
    ),
    HostileCase("zero-length file", "empty.mp4", _bytes(b""), "The file is empty"),
    # Containers and images the demuxer allow-list does not take, and broken files.
    HostileCase(
        "jpeg picture",
        "picture.mp4",
        _ffmpeg(*_TESTSRC, "-frames:v", "1", "-c:v", "mjpeg", "-f", "image2", "-update", "1"),
        _READ_FAILED,
    ),
    HostileCase("animated gif", "animation.mp4", _ffmpeg(*_TESTSRC, "-t", "0.2", "-f", "gif"), _READ_FAILED),
    HostileCase(
        "mp4 header then noise", "noise.mp4", _bytes(b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 64), _READ_FAILED
    ),
    HostileCase(
        "first hundred bytes of an mp4",
        "start.mp4",
        _from_clip(MediaFactory.tiny, lambda data: data[:100]),
        _READ_FAILED,
    ),
    HostileCase(
        "truncated before its index", "truncated.mp4", lambda factory, _: factory.truncated_mp4(), _READ_FAILED
    ),
    # Headers that ask too much of a decoder.
    HostileCase(
        "100000x100000 header",
        "huge.avi",
        lambda factory, _: factory.huge_resolution_header(),
        "Resolution 100000x100000 is above",
    ),
    HostileCase("sar bomb", "narrow.mp4", lambda factory, _: factory.sar_bomb(), "Resolution 16384x1024 is above"),
    HostileCase(
        "absurd frame rate",
        "fast.mp4",
        _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=1000:duration=0.2", *QUICK_H264),
        "Frame rate 1000.00 fps is above",
    ),
    HostileCase("a thousand streams", "streams.mkv", _many_streams(1000), "The file has 1000 streams"),
    HostileCase(
        "audio only",
        "song.mp4",
        _ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"),
        "The file has no video stream",
    ),
    HostileCase(
        "one picture as a one-frame video",
        "still.mp4",
        _ffmpeg(*_TESTSRC, "-frames:v", "1", *QUICK_H264),
        "Duration 0.04 s is below the 0.5 s minimum",
    ),
    # Legitimate videos, however odd: transcoded.
    HostileCase(
        "references in a free box", "references.mp4", _from_clip(MediaFactory.tiny, _references_appended), None
    ),
    HostileCase("giant metadata", "tagged.mp4", _with_giant_tag, None),
    HostileCase("right-to-left name", "\u202eevil\u202d.mp4", _ONE_SECOND, None),
    HostileCase("name that is not UTF-8", "\udcff\udcfeclip.mp4", _ONE_SECOND, None),
]
