"""What a transcoder worker needs: a way to report to the job service, and a pipeline that turns a source
file into an output set on local disk."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from videoforge.media_model import DEFAULT_ENCODING, EncodingOptions
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.loudness import LoudnessFigures
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.domain.presentation import PresentationLayout, PresentationSink, PresentationSnapshot


@dataclass(frozen=True)
class OutputFile:
    """A file of the output set: its path relative to the set, and what it is."""

    relative: str
    kind: str = ""  # an Asset kind for files worth listing; segments stay unlisted
    quality: str = ""


@dataclass(frozen=True)
class TranscodeResult:
    info: MediaInfo
    rungs: list[Rung]
    output_dir: Path
    files: list[OutputFile]
    # The rungs in other codecs than H.264, when asked for (the extras are made from `rungs`).
    codec_rungs: list[Rung] = field(default_factory=list)
    # The default audio track's loudness in the source and as published; None without audio or figures.
    loudness: LoudnessFigures | None = None

    @property
    def renditions(self) -> list[Rung]:
        """Every video rendition, H.264 first: what the job reports."""
        return [*self.rungs, *self.codec_rungs]


@dataclass(frozen=True)
class Attempt:
    """An attempt the job service started for one queue delivery."""

    job_id: str
    video_id: str
    number: int
    input_source: str
    output_formats: list[str]
    # An imported video's URL: fetched into `input_source` while that is not stored yet.
    source_url: str = ""
    options: EncodingOptions = DEFAULT_ENCODING


@dataclass(frozen=True)
class ProducedAsset:
    kind: str
    quality: str
    key: str
    content_type: str
    size_bytes: int


class ChunkedEncoding(ABC):
    """A long source's ladder encoded in chunks that several workers share, then joined and packaged once."""

    @abstractmethod
    def applies(self, info: MediaInfo, layout: PresentationLayout, options: EncodingOptions) -> bool:
        """Whether this source is worth chunking, and its presentation one that chunks can make."""

    @abstractmethod
    async def encode(
        self,
        source: Path,
        info: MediaInfo,
        rungs: list[Rung],
        layout: PresentationLayout,
        out_dir: Path,
        *,
        on_progress: Callable[[float], None],
        sink: PresentationSink | None,
    ) -> PresentationSnapshot:
        """Writes the presentation into out_dir as one encode would, and hands `sink` only the finished one."""


class Transcoder(ABC):
    @abstractmethod
    async def transcode(
        self,
        source: Path,
        work_dir: Path,
        *,
        formats: list[str],
        on_progress: Callable[[float], None],
        sink: PresentationSink | None = None,
        options: EncodingOptions = DEFAULT_ENCODING,
        chunks: ChunkedEncoding | None = None,
    ) -> TranscodeResult:
        """Writes the output set under work_dir; `sink` gets its presentation while it grows. With `chunks`, a
        source it applies to is encoded in chunks."""


class SourceImporter(ABC):
    @abstractmethod
    async def fetch(self, url: str, destination: Path) -> MediaInfo:
        """Fetches the file at `url` into `destination`, refuses what is not a video we take as an upload would
        be refused, and returns what the probe found. Raises SourceRefused (or UnsupportedMedia) for what will
        never work, SourceUnavailable for what may work later."""


class JobReporter(ABC):
    """The job service as a worker sees it. Refusals raise domain errors: FailedPrecondition or NotFound (the
    job is finished, cancelled or gone), Aborted (another attempt holds the job); Unavailable means the answer
    is unknown and the same report may be sent again."""

    @abstractmethod
    async def start(self, job_id: str, delivery_token: str, worker_id: str) -> Attempt: ...

    @abstractmethod
    async def progress(self, attempt: Attempt, state: str, percent: int) -> bool:
        """Reports progress and renews the attempt's lease; True when the job was cancelled."""

    @abstractmethod
    async def record_source(self, attempt: Attempt, media: MediaInfo) -> None:
        """Tells the job service what the probe found in an imported source."""

    @abstractmethod
    async def record_live_output(
        self, attempt: Attempt, output_prefix: str, assets: list[ProducedAsset], renditions: list[Rung], has_audio: bool
    ) -> None:
        """Tells the job service the attempt's output plays while it grows: its manifests (`assets`) are stored."""

    @abstractmethod
    async def complete(
        self,
        attempt: Attempt,
        output_prefix: str,
        assets: list[ProducedAsset],
        renditions: list[Rung],
        has_audio: bool,
        loudness: LoudnessFigures | None = None,
    ) -> None:
        """Tells the job service the attempt's output is stored whole, with what was measured of its audio."""

    @abstractmethod
    async def fail(self, attempt: Attempt, code: str, message: str, *, will_retry: bool) -> None: ...

    @abstractmethod
    async def discard(self, attempt: Attempt) -> None:
        """Asks the job service to delete what a stopped attempt uploaded; it keeps whatever is referenced."""
