"""Publishing a growing presentation: segments before the manifests that list them, each file once, the
announcement once playable, and a failed upload stopping the others."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from videoforge.storage.port import BlobStoreError
from videoforge.transcoder.domain.presentation import ManifestFile, PresentationSnapshot
from videoforge.transcoder.presentation_upload import PresentationUpload

MASTER = ManifestFile("master.m3u8", "HLS_MASTER")


def snapshot(folder: Path, count: int, *, playable: bool) -> PresentationSnapshot:
    (folder / "0").mkdir(exist_ok=True)
    segments = [f"0/{n}.m4s" for n in range(1, count + 1)]
    for segment in segments:
        (folder / segment).write_bytes(b"segment")
    listing = "".join(f"{segment}\n" for segment in segments).encode()
    return PresentationSnapshot(folder, segments, [(MASTER, listing)], playable=playable)


async def test_segments_go_up_before_the_manifests_each_once_and_playable_is_announced_once(tmp_path: Path) -> None:
    stored: list[str] = []
    announced: list[PresentationSnapshot] = []

    async def upload(path: Path, relative: str) -> None:
        stored.append(relative)

    async def announce(state: PresentationSnapshot) -> None:
        announced.append(state)

    sink = PresentationUpload(upload, tmp_path / "staging", announce)
    await sink.publish(snapshot(tmp_path, 1, playable=False))
    await sink.publish(snapshot(tmp_path, 2, playable=True))
    await sink.publish(snapshot(tmp_path, 2, playable=True))

    assert stored == ["0/1.m4s", "master.m3u8", "0/2.m4s", "master.m3u8"]
    assert len(announced) == 1
    assert (tmp_path / "staging" / "master.m3u8").read_text() == "0/1.m4s\n0/2.m4s\n"


async def test_the_master_goes_up_only_once_the_playlists_it_names_are_up(tmp_path: Path) -> None:
    stored: list[str] = []

    async def upload(path: Path, relative: str) -> None:
        await asyncio.sleep(0.05 if relative == "media_1.m3u8" else 0)  # one playlist slower than the rest
        stored.append(relative)

    async def announce(state: PresentationSnapshot) -> None:
        pass

    playlists = [(ManifestFile(f"media_{n}.m3u8", "HLS_PLAYLIST"), b"0/1.m4s\n") for n in range(3)]
    state = snapshot(tmp_path, 1, playable=True)
    sink = PresentationUpload(upload, tmp_path / "staging", announce)
    await sink.publish(PresentationSnapshot(tmp_path, state.segments, [state.manifests[0], *playlists], playable=True))

    assert stored[0] == "0/1.m4s" and stored[-1] == "master.m3u8"
    assert sorted(stored[1:-1]) == ["media_0.m3u8", "media_1.m3u8", "media_2.m3u8"]


async def test_a_failed_upload_stops_the_others_and_fails_with_its_own_error(tmp_path: Path) -> None:
    finished: list[str] = []

    async def upload(path: Path, relative: str) -> None:
        if relative == "0/2.m4s":
            raise BlobStoreError("the store is down")
        await asyncio.sleep(0.2)
        finished.append(relative)

    async def announce(state: PresentationSnapshot) -> None:
        raise AssertionError("nothing is announced")

    sink = PresentationUpload(upload, tmp_path / "staging", announce)
    with pytest.raises(BlobStoreError):
        await sink.publish(snapshot(tmp_path, 4, playable=True))
    assert finished == [] and "master.m3u8" not in sink.uploaded


async def test_a_file_kept_ahead_is_not_stored_again_with_the_rest(tmp_path: Path) -> None:
    stored: list[str] = []

    async def upload(path: Path, relative: str) -> None:
        stored.append(relative)

    async def announce(state: PresentationSnapshot) -> None:
        pass

    output = tmp_path / "output"
    (output / "downloads").mkdir(parents=True)
    (output / "images").mkdir()
    for relative in ("downloads/360p.mp4", "downloads/720p.mp4", "images/poster.jpg"):
        (output / relative).write_bytes(b"made")
    sink = PresentationUpload(upload, tmp_path / "staging", announce)

    await sink.keep(output / "downloads" / "720p.mp4", "downloads/720p.mp4")
    await sink.upload_rest(output)

    assert stored[0] == "downloads/720p.mp4"
    assert sorted(stored) == ["downloads/360p.mp4", "downloads/720p.mp4", "images/poster.jpg"]
