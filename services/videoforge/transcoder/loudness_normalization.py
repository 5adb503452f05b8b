"""Loudness around the encode: the source's audio measured before it (the second pass needs the figures before
the first segment), each audio rendition given its second-pass filter, and the published default track measured
after it for the video's details. Off, nothing is changed and both are measured after the encode."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from videoforge.kit.subprocesses import ProcessError
from videoforge.transcoder.adapters.ffmpeg_loudness import LoudnessMeter, Track
from videoforge.transcoder.domain.audio_renditions import AudioRendition
from videoforge.transcoder.domain.loudness import LoudnessFigures, Measurement, figures, normalization_filter

log = logging.getLogger(__name__)

SourceLoudness = Mapping[Track, Measurement | None]


class LoudnessNormalization:
    def __init__(self, meter: LoudnessMeter, *, normalize: bool = True) -> None:
        self._meter = meter
        self.normalize = normalize

    async def measure_before(
        self, source: Path, audio: Sequence[AudioRendition], *, duration: float, scratch: Path
    ) -> SourceLoudness | None:
        """The loudness of each source track as its renditions are encoded, when they are to be normalised (else
        None); a track that cannot be measured is missing (its audio is published as it is, never failing the
        transcode for it)."""
        if not (self.normalize and audio):
            return None
        return await self._measure(source, sorted({_track(rendition) for rendition in audio}), duration, scratch)

    def apply(self, audio: Sequence[AudioRendition], measured: SourceLoudness | None) -> tuple[AudioRendition, ...]:
        """The renditions with their second-pass filters; a silent or unmeasured track is left as it is."""
        measured = measured or {}
        return tuple(
            replace(rendition, loudness_filter=normalization_filter(found, rendition.channels))
            if (found := measured.get(_track(rendition))) is not None
            else rendition
            for rendition in audio
        )

    async def figures(
        self,
        source: Path,
        measured: SourceLoudness | None,
        audio: Sequence[AudioRendition],
        published: Path | None,
        *,
        duration: float,
        scratch: Path,
    ) -> LoudnessFigures | None:
        """The default (first) rendition's loudness in the source (`measured` before the encode, or now) and as
        `published` (that rendition's own encoded audio, when it can be read: a protected one cannot); None when
        either is unknown."""
        if not audio or published is None:
            return None
        default = _track(audio[0])
        output_track = (0, audio[0].channels)
        before = _known(measured) if measured is not None else self._measure(source, [default], duration, scratch)
        source_loudness, output = await asyncio.gather(
            before, self._measure(published, [output_track], duration, scratch)
        )
        found, encoded = source_loudness.get(default), output.get(output_track)
        if found is None or encoded is None:
            return None
        return figures(found, encoded, normalized=measured is not None)

    async def _measure(self, path: Path, tracks: Sequence[Track], duration: float, scratch: Path) -> SourceLoudness:
        try:
            return await self._meter.measure(path, tracks, duration=duration, scratch=scratch)
        except (ProcessError, ValueError) as error:
            log.warning("could not measure the loudness of %s: %s", path.name, error)
            return {}


def _track(rendition: AudioRendition) -> Track:
    return (rendition.source, rendition.channels)


async def _known(measured: SourceLoudness) -> SourceLoudness:
    return measured
