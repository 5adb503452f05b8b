"""HEVC and AV1 ladders beside H.264, through the real pipeline: one decode, one CMAF presentation, an
AdaptationSet per codec family and shape, the master's CODECS per variant, aligned keyframes, decodable streams.

Run with ``-p tests.fixtures.media``.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import m3u8
import pytest

from tests.decoding import decoded_video_frames, keyframe_seconds, segment_starts
from tests.media_factory import MediaFactory
from videoforge.media_model import EncodingOptions
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.ladder import CODEC_BITRATE_SHARE
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.ports import TranscodeResult
from videoforge.transcoder.entrypoints.media_proto import codecs_for
from videoforge.transcoder.pipeline import MediaPipeline

DASH = "{urn:mpeg:dash:schema:mpd:2011}"
SECONDS = 4
FAMILY = {"h264": "avc1.", "hevc": "hvc1.", "av1": "av01."}


async def _transcode(source: Path, work_dir: Path, codecs: tuple[str, ...]) -> TranscodeResult:
    pipeline = MediaPipeline(FfmpegEncoder(), MediaLimits())
    return await pipeline.transcode(
        source,
        work_dir,
        formats=["480p", "360p"],
        on_progress=lambda _: None,
        options=EncodingOptions(codecs=codecs),
    )


@pytest.mark.parametrize("extra", ["av1", "hevc"])
async def test_an_extra_codec_ladder_joins_the_same_presentation(
    media_factory: MediaFactory, tmp_path: Path, extra: str
) -> None:
    source = await media_factory.sized(854, 480, seconds=SECONDS)
    result = await _transcode(source, tmp_path, ("h264", extra))
    output = result.output_dir

    # The job reports every rendition, H.264 first, the other codec's at its share of the bitrate.
    assert [(r.name, r.codec) for r in result.renditions] == [
        ("480p", "h264"), ("360p", "h264"), ("480p", extra), ("360p", extra),
    ]  # fmt: skip
    for h264, other in zip(result.rungs, result.codec_rungs, strict=True):
        assert other.video_kbps == round(h264.video_kbps * CODEC_BITRATE_SHARE[extra])
        assert codecs_for(other, has_audio=True).startswith(FAMILY[extra])

    # DASH: each video AdaptationSet holds one codec family (and one picture shape).
    mpd = ET.parse(output / "manifest.mpd").getroot()
    families = []
    for adaptation_set in mpd.iter(f"{DASH}AdaptationSet"):
        if adaptation_set.get("contentType") != "video":
            continue
        codecs = {r.get("codecs", "")[:5] for r in adaptation_set.iter(f"{DASH}Representation")}
        assert len(codecs) == 1, codecs
        families.append(codecs.pop())
    assert sorted(families) == sorted(["avc1.", "avc1.", FAMILY[extra], FAMILY[extra]])

    # HLS: every variant's CODECS names its own video codec, and the audio.
    master = m3u8.load(str(output / "master.m3u8"))
    variants = {v.uri: v.stream_info.codecs for v in master.playlists}
    assert len(variants) == 4
    for stream, rung in zip([0, 1, 3, 4], result.renditions, strict=True):  # stream 2 is the audio
        video_codec, audio_codec = variants[f"media_{stream}.m3u8"].split(",")
        assert video_codec.startswith(FAMILY[rung.codec]), (stream, video_codec)
        assert audio_codec == "mp4a.40.2"
    # Trick play stays H.264's: an I-frame playlist per H.264 rung only.
    assert [i.uri for i in master.iframe_playlists] == ["media_0-iframes.m3u8", "media_1-iframes.m3u8"]

    # Every stream decodes whole, and all keyframes fall at the same times (each segment starts on one).
    keyframes = set()
    for stream in (0, 1, 3, 4):
        playlist = output / f"media_{stream}.m3u8"
        assert await asyncio.to_thread(decoded_video_frames, playlist) == SECONDS * 30
        keyframes.add(tuple(await asyncio.to_thread(keyframe_seconds, playlist)))
    assert len(keyframes) == 1
    times = keyframes.pop()
    assert [round(t - times[0], 2) for t in times] == pytest.approx(segment_starts(SECONDS), abs=0.01)
