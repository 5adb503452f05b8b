"""Caption use cases: add (checked, converted, packaged, listed), list, delete; and the captions a transcode
found in the source, added once its output is published."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from videoforge.gallery.domain.captions import (
    MAX_CAPTIONS_PER_VIDEO,
    ORIGIN_SOURCE,
    ORIGIN_UPLOAD,
    Caption,
    CaptionPublisher,
    CaptionRepository,
    PackagedFiles,
    check_format,
    check_label,
    check_language,
    decode_caption,
    language_from_tag,
    parse_caption,
)
from videoforge.gallery.domain.ports import VideoRepository
from videoforge.gallery.domain.videos import JobUpdate, Video, bare_id, ensure_manageable, ensure_viewable
from videoforge.kit.errors import InvalidArgument, NotFound, ResourceExhausted, require
from videoforge.kit.ids import id_named_by
from videoforge.kit.principal import current_principal, require_user
from videoforge.media_model import JobState, output_folder

log = logging.getLogger(__name__)


class CaptionLibrary:
    def __init__(self, videos: VideoRepository, captions: CaptionRepository, publisher: CaptionPublisher) -> None:
        self._videos, self._captions, self._publisher = videos, captions, publisher

    async def add(self, parent: str, language: str, label: str, format_: str, content: str) -> Caption:
        video_id = bare_id(require(parent, "parent"))
        video = ensure_manageable(await self._videos.get(video_id), video_id, require_user())
        language = check_language(language)
        label = check_label(label, language)
        text = parse_caption(content, check_format(format_), video.media.duration_seconds)
        # Named by what it is: a repeated add (a retry after a lost reply) finds it added and answers it again.
        caption_id = id_named_by(f"{video.id}/{language}/{label}/{text.webvtt}")
        return await self._add(video, language, label, ORIGIN_UPLOAD, text.webvtt, len(text.cues), caption_id)

    async def import_source_tracks(self, update: JobUpdate) -> None:
        """Adds the text tracks the completed job found in the source as captions of its video, once: a repeated
        event, or another transcode of the same source, finds them added. A track that does not read as a caption
        is left out and logged."""
        playing = update.playing
        if playing is None or update.job.state != JobState.COMPLETED or not playing.poster_key:
            return
        video = await self._videos.get(update.video_id)
        if video is None:
            return
        known = {caption.id for caption, _ in await self._captions.for_video(video.id)}
        for track, data in await self._publisher.source_tracks(output_folder(playing.poster_key)):
            # Named by the source and track, not the job: transcoding the video again adds no second copy.
            caption_id = id_named_by(f"{video.source_key}/{track.file}")
            if caption_id in known:
                continue
            try:
                text = parse_caption(decode_caption(data), "vtt", video.media.duration_seconds)
            except InvalidArgument as refused:
                log.warning("source text track %s of video %s left out: %s", track.file, video.id, refused)
                continue
            language = language_from_tag(track.language)
            label = check_label(track.title.replace('"', "'")[:80], language)
            await self._add(video, language, label, ORIGIN_SOURCE, text.webvtt, len(text.cues), caption_id)

    async def _add(
        self, video: Video, language: str, label: str, origin: str, webvtt: str, cues: int, caption_id: str
    ) -> Caption:
        present = {caption.id: caption for caption, _ in await self._captions.for_video(video.id)}
        if caption_id in present:
            return present[caption_id]
        if len(present) >= MAX_CAPTIONS_PER_VIDEO:
            raise ResourceExhausted(
                f"A video may have at most {MAX_CAPTIONS_PER_VIDEO} captions; delete one first.", "TOO_MANY_CAPTIONS"
            )
        caption = Caption(caption_id, video.id, language, label, origin, cues, datetime.now(UTC))
        # Files first, then the row, then the index: whatever the index lists is stored and whole.
        files = await self._publisher.publish(caption, webvtt)
        await self._captions.add(caption, files)
        await self._republish(video.id)
        return caption

    async def list(self, parent: str) -> list[Caption]:
        video_id = bare_id(require(parent, "parent"))
        ensure_viewable(await self._videos.get(video_id), video_id, current_principal())
        return [caption for caption, _ in await self._captions.for_video(video_id)]

    async def delete(self, name: str) -> None:
        video_part, _, caption_id = require(name, "name").strip().rpartition("/captions/")
        video_id = bare_id(video_part)
        if not video_id or not caption_id:
            raise NotFound(f"No caption {name!r}.", "CAPTION_NOT_FOUND")
        ensure_manageable(await self._videos.get(video_id), video_id, require_user())
        if not await self._captions.remove(video_id, caption_id):
            raise NotFound(f"No caption {name!r}.", "CAPTION_NOT_FOUND")
        # Out of the index before the files go: a manifest signed now never names a deleted file.
        await self._republish(video_id)
        await self._publisher.remove(video_id, caption_id)

    async def _republish(self, video_id: str) -> None:
        async def write(captions: list[tuple[Caption, PackagedFiles]]) -> None:
            await self._publisher.write_index(video_id, captions)

        await self._captions.publish_each_change(video_id, write)
