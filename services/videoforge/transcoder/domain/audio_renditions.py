"""Which audio renditions a presentation carries: every audio track of the source as stereo AAC, named for a
player's audio menu, and a 5.1 AAC rendition of each surround track when surround is asked for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from videoforge.transcoder.domain.languages import language_name
from videoforge.transcoder.domain.media import AudioTrack

STEREO_KBPS = 128
SURROUND_KBPS = 384
SURROUND_CHANNELS = 6
SAMPLE_RATE = 48000
# A track's title becomes a menu entry and an attribute in the HLS master: short, one line, no quotes.
MAX_NAME_CHARS = 60
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f"]+')


@dataclass(frozen=True, slots=True)
class AudioRendition:
    """One audio output: a source track as AAC with this many channels, and how players list it."""

    source: int  # the track's place among the source's audio streams (`0:a:{source}`)
    channels: int
    bitrate_kbps: int
    language: str  # BCP 47
    name: str
    # FFmpeg's audio filter that brings it to the target loudness; empty leaves it as the source has it.
    loudness_filter: str = ""


def plan_audio(tracks: Sequence[AudioTrack], *, surround: bool) -> tuple[AudioRendition, ...]:
    """A stereo rendition per track in the source's order (the first is the default one), each followed by a
    5.1 rendition when `surround` is on and the track has 5.1 or more channels."""
    renditions: list[AudioRendition] = []
    for name, track in zip(_track_names(tracks), tracks, strict=True):
        renditions.append(AudioRendition(track.position, 2, STEREO_KBPS, track.language, name))
        if surround and track.surround:
            surround_name = f"{name} (5.1)"
            renditions.append(
                AudioRendition(track.position, SURROUND_CHANNELS, SURROUND_KBPS, track.language, surround_name)
            )
    return tuple(renditions)


def _track_names(tracks: Sequence[AudioTrack]) -> list[str]:
    """Each track's title, else its language's name, else `Audio N`; a name already taken gets the track's number."""
    names: list[str] = []
    for number, track in enumerate(tracks, start=1):
        name = _clean(track.title) or language_name(track.language) or f"Audio {number}"
        names.append(f"{name} {number}" if name in names else name)
    return names


def _clean(title: str) -> str:
    return " ".join(_UNSAFE_IN_NAME.sub(" ", title).split())[:MAX_NAME_CHARS].strip()
