"""Captions: a checked WebVTT text per track, from WebVTT or SubRip, with its language and label.

Everything here is pure: the text is parsed and checked before anything is stored or packaged, and each refusal
names the request field it is about.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from videoforge.kit.errors import InvalidArgument
from videoforge.published_captions import SourceTextTrack

# A feature film's SubRip is about 100 KiB; the JSON body carrying it must also fit the edge's 1 MiB.
MAX_CAPTION_BYTES = 512 * 1024
MAX_LABEL = 80
MAX_CAPTIONS_PER_VIDEO = 20
# Cues may run a little past the probed duration (container and stream durations differ by a frame or two).
DURATION_SLACK_SECONDS = 5.0
FORMATS = ("vtt", "srt")
ORIGIN_UPLOAD, ORIGIN_SOURCE = "upload", "source"

# BCP 47 (RFC 5646) tags: language[-script][-region](-variant)*(-extension)*[-privateuse]. The primary
# language is an ISO 639 code: RFC 5646's 4 to 8 letter form is reserved, and accepting it would pass `english`.
_BCP47 = re.compile(
    r"(?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3})"
    r"(?:-(?P<script>[a-z]{4}))?"
    r"(?:-(?P<region>[a-z]{2}|\d{3}))?"
    r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*"
    r"(?:-[a-wyz\d](?:-[a-z\d]{2,8})+)*"
    r"(?:-x(?:-[a-z\d]{1,8})+)?",
    re.IGNORECASE,
)
# WebVTT timestamps: [hh:]mm:ss.ttt; SubRip: hh:mm:ss,ttt (a dot is common enough to accept).
_VTT_TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_SRT_TIME = r"(\d{1,}):([0-5]\d):([0-5]\d)[,.](\d{3})"
_VTT_TIMING = re.compile(rf"{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?P<settings>[ \t].*)?")
_SRT_TIMING = re.compile(rf"{_SRT_TIME}[ \t]*-->[ \t]*{_SRT_TIME}(?:[ \t].*)?")
_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
# SubRip's <font> has no WebVTT counterpart; <b>, <i> and <u> mean the same in both.
_SRT_FONT_TAG = re.compile(r"</?font\b[^>]*>", re.IGNORECASE)
# Containers tag streams with ISO 639-2 codes; BCP 47 takes the two-letter ISO 639-1 code where there is one.
_ISO_639_1 = {
    "ara": "ar", "chi": "zh", "zho": "zh", "cze": "cs", "ces": "cs", "dan": "da", "dut": "nl", "nld": "nl",
    "eng": "en", "fin": "fi", "fre": "fr", "fra": "fr", "ger": "de", "deu": "de", "gre": "el", "ell": "el",
    "heb": "he", "hin": "hi", "hun": "hu", "ind": "id", "ita": "it", "jpn": "ja", "kor": "ko", "nor": "no",
    "pol": "pl", "por": "pt", "rum": "ro", "ron": "ro", "rus": "ru", "spa": "es", "swe": "sv", "tha": "th",
    "tur": "tr", "ukr": "uk", "vie": "vi",
}  # fmt: skip
# C0 controls other than tab and line feed, and DEL: no caption has them, a binary file does.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    settings: str = ""


@dataclass(frozen=True)
class CaptionText:
    """A checked caption: its cues and the WebVTT that is stored and packaged."""

    cues: tuple[Cue, ...]
    webvtt: str


@dataclass(frozen=True)
class Caption:
    id: str
    video_id: str
    language: str
    label: str
    origin: str
    cue_count: int
    create_time: datetime

    @property
    def name(self) -> str:
        return f"videos/{self.video_id}/captions/{self.id}"


@dataclass(frozen=True)
class PackagedFiles:
    """What packaging a caption made, as the manifests name it (paths relative to the video's folder)."""

    hls_playlist: str
    dash_adaptation_set: str


class CaptionRepository(ABC):
    @abstractmethod
    async def add(self, caption: Caption, files: PackagedFiles) -> None: ...

    @abstractmethod
    async def for_video(self, video_id: str) -> list[tuple[Caption, PackagedFiles]]:
        """The video's captions, oldest first, each with what its packaging made."""

    @abstractmethod
    async def remove(self, video_id: str, caption_id: str) -> bool:
        """False when there was no such caption."""

    @abstractmethod
    async def publish_each_change(
        self, video_id: str, publish: Callable[[list[tuple[Caption, PackagedFiles]]], Awaitable[None]]
    ) -> None:
        """Calls `publish` with the video's captions while no other call for that video runs: of two changes
        published at once, the later one publishes both."""


class CaptionPublisher(ABC):
    """Where players find captions: packaged files under the video's folder, and the index of them."""

    @abstractmethod
    async def publish(self, caption: Caption, webvtt: str) -> PackagedFiles: ...

    @abstractmethod
    async def write_index(self, video_id: str, captions: list[tuple[Caption, PackagedFiles]]) -> None:
        """Lists exactly these captions in the manifests the video is signed with from now on."""

    @abstractmethod
    async def remove(self, video_id: str, caption_id: str) -> None: ...

    @abstractmethod
    async def source_tracks(self, output_folder: str) -> list[tuple[SourceTextTrack, bytes]]:
        """The text tracks a transcode found in the source, each with its WebVTT; none when it found none."""


def check_language(value: str) -> str:
    """A well-formed BCP 47 tag in its conventional case (`en-US`, `zh-Hant-TW`)."""
    tag = value.strip().replace("_", "-")
    if not tag:
        raise InvalidArgument.for_field("language", "is required: a BCP 47 tag such as en or fr-CA", "BAD_LANGUAGE")
    match = _BCP47.fullmatch(tag)
    if match is None or len(tag) > 35:
        raise InvalidArgument.for_field(
            "language", f"{value!r} is not a BCP 47 language tag (such as en, pt-BR or zh-Hant)", "BAD_LANGUAGE"
        )
    parts = tag.split("-")
    canonical = [parts[0].lower()]
    for part in parts[1:]:
        previous = canonical[-1]
        if len(previous) == 1:  # an extension's or private use's subtags keep lower case
            canonical.append(part.lower())
        elif len(part) == 4 and part.isalpha() and part.lower() == (match["script"] or "").lower():
            canonical.append(part.title())
        elif part.lower() == (match["region"] or "").lower():
            canonical.append(part.upper())
        else:
            canonical.append(part.lower())
    return "-".join(canonical)


def language_from_tag(tag: str) -> str:
    """A stream's language tag (`eng`, `fr-CA`, empty) as a BCP 47 tag; `und` (undetermined) when unreadable."""
    value = tag.strip().lower()
    try:
        return check_language(_ISO_639_1.get(value, value))
    except InvalidArgument:
        return "und"


def check_label(value: str, language: str) -> str:
    label = " ".join(value.split())
    if len(label) > MAX_LABEL:
        raise InvalidArgument.for_field("label", f"must be at most {MAX_LABEL} characters", "BAD_LABEL")
    if '"' in label or _CONTROL.search(label):
        # A playlist's NAME attribute is a quoted string that cannot hold a quote.
        raise InvalidArgument.for_field("label", "may not contain double quotes or control characters", "BAD_LABEL")
    return label or language


def check_format(value: str) -> str:
    format_ = value.strip().lower().lstrip(".")
    if format_ == "webvtt":
        format_ = "vtt"
    if format_ not in FORMATS:
        raise InvalidArgument.for_field("format", f"must be vtt or srt, not {value!r}", "BAD_CAPTION_FORMAT")
    return format_


def decode_caption(data: bytes) -> str:
    """UTF-8 text, without a byte order mark; refuses other encodings, naming the first bad byte."""
    _check_size(len(data))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _content_error(
            f"is not UTF-8 (byte {exc.start}); save the file as UTF-8 and try again", "CAPTION_NOT_UTF8"
        ) from None


def parse_caption(content: str, format_: str, duration_seconds: float = 0.0) -> CaptionText:
    """Checks a caption's text and returns its cues and WebVTT. `duration_seconds` (0: unknown) bounds the cues."""
    _check_size(len(content.encode("utf-8", errors="surrogatepass")))
    text = content.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _content_error("is not UTF-8 (it holds a lone surrogate)", "CAPTION_NOT_UTF8") from None
    if bad := _CONTROL.search(text):
        line = text.count("\n", 0, bad.start()) + 1
        raise _content_error(f"line {line} holds a control character; is this a text file?", "CAPTION_NOT_TEXT")
    cues = _vtt_cues(text) if format_ == "vtt" else _srt_cues(text)
    if not cues:
        raise _content_error("holds no cues", "CAPTION_EMPTY")
    if duration_seconds > 0:
        limit = duration_seconds + DURATION_SLACK_SECONDS
        for number, cue in enumerate(cues, 1):
            if cue.end > limit:
                raise _content_error(
                    f"cue {number} ends at {_timestamp(cue.end)}, after the video's end "
                    f"({_timestamp(duration_seconds)})",
                    "CAPTION_PAST_END",
                )
    return CaptionText(tuple(cues), to_webvtt(cues))


def to_webvtt(cues: list[Cue]) -> str:
    blocks = ["WEBVTT"]
    for cue in cues:
        settings = f" {cue.settings}" if cue.settings else ""
        blocks.append(f"{_timestamp(cue.start)} --> {_timestamp(cue.end)}{settings}\n{cue.text}")
    return "\n\n".join(blocks) + "\n"


def _vtt_cues(text: str) -> list[Cue]:
    lines = text.split("\n")
    if not _VTT_HEADER.fullmatch(lines[0]):
        raise _content_error("does not start with WEBVTT (is it SubRip? then send format srt)", "BAD_WEBVTT")
    cues: list[Cue] = []
    for first_line, block in _blocks(lines[1:], offset=2):
        if block[0].startswith(("NOTE", "STYLE", "REGION")) and "-->" not in block[0]:
            continue  # comments and style blocks are not cues
        timing_at = 0 if "-->" in block[0] else 1
        if timing_at >= len(block) or "-->" not in block[timing_at]:
            raise _content_error(f"line {first_line}: a cue needs a timing line `start --> end`", "BAD_CUE_TIMING")
        match = _VTT_TIMING.fullmatch(block[timing_at].strip())
        if match is None:
            raise _content_error(
                f"line {first_line + timing_at}: malformed cue timing {block[timing_at].strip()!r}; "
                "expected hh:mm:ss.ttt --> hh:mm:ss.ttt",
                "BAD_CUE_TIMING",
            )
        start, end = _seconds(*match.groups()[0:4]), _seconds(*match.groups()[4:8])
        _check_order(start, end, first_line + timing_at)
        payload = block[timing_at + 1 :]
        settings = (match["settings"] or "").strip()
        cues.append(Cue(start, end, "\n".join(payload), settings))
    return cues


def _srt_cues(text: str) -> list[Cue]:
    cues: list[Cue] = []
    for first_line, block in _blocks(text.split("\n"), offset=1):
        timing_at = 1 if block[0].strip().isdigit() else 0
        if timing_at >= len(block):
            raise _content_error(f"line {first_line}: a cue number without a timing line", "BAD_CUE_TIMING")
        match = _SRT_TIMING.fullmatch(block[timing_at].strip())
        if match is None:
            raise _content_error(
                f"line {first_line + timing_at}: malformed cue timing {block[timing_at].strip()!r}; "
                "expected hh:mm:ss,ttt --> hh:mm:ss,ttt",
                "BAD_CUE_TIMING",
            )
        start, end = _seconds(*match.groups()[0:4]), _seconds(*match.groups()[4:8])
        _check_order(start, end, first_line + timing_at)
        # `-->` may not appear in a WebVTT cue's text; the entity reads the same.
        payload = [_SRT_FONT_TAG.sub("", line).replace("-->", "--&gt;") for line in block[timing_at + 1 :]]
        cues.append(Cue(start, end, "\n".join(payload)))
    return cues


def _blocks(lines: list[str], *, offset: int) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines, each with its 1-based line number in the file."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(lines, offset):
        if line.strip():
            if not current:
                blocks.append((number, current))
            current.append(line)
        else:
            current = []
    return blocks


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def _check_order(start: float, end: float, line: int) -> None:
    if end <= start:
        raise _content_error(
            f"line {line}: the cue ends ({_timestamp(end)}) before it starts ({_timestamp(start)})", "BAD_CUE_TIMING"
        )


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _check_size(size: int) -> None:
    if size > MAX_CAPTION_BYTES:
        raise _content_error(
            f"is {size:,} bytes; a caption may have at most {MAX_CAPTION_BYTES:,}", "CAPTION_TOO_LARGE"
        )


def _content_error(description: str, reason: str) -> InvalidArgument:
    return InvalidArgument.for_field("content", description, reason)
