"""Imported sources: fetched through the outbound policy, then checked and probed exactly as uploads are."""

from __future__ import annotations

from pathlib import Path

from videoforge.kit.outbound import ContentRefused, FetchLimits, OutboundClient, OutboundRefused, OutboundUnavailable
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.errors import SourceRefused, SourceUnavailable, UnsupportedMedia
from videoforge.transcoder.domain.media import SNIFF_BYTES, MediaInfo, MediaLimits, sniff_refusal, validate
from videoforge.transcoder.domain.ports import SourceImporter

# The words the original API used for a failed fetch ("Failed to download source video: 404 Not Found").
DOWNLOAD_FAILED = "Failed to download source video"
# A whole download, redirects included: 10 GiB at about 3 MB/s.
IMPORT_SECONDS = 3600.0


class UrlSourceImporter(SourceImporter):
    def __init__(self, client: OutboundClient, encoder: FfmpegEncoder, limits: MediaLimits) -> None:
        self._client, self._encoder, self._limits = client, encoder, limits
        self._fetch_limits = FetchLimits(max_bytes=limits.max_bytes, total_seconds=IMPORT_SECONDS)

    async def fetch(self, url: str, destination: Path) -> MediaInfo:
        try:
            # The first bytes are sniffed as they arrive: a web page or a playlist is refused before the rest.
            await self._client.download(
                url, destination, self._fetch_limits, head_check=sniff_refusal, head_bytes=SNIFF_BYTES
            )
        except ContentRefused as refusal:
            raise UnsupportedMedia(str(refusal)) from refusal
        except OutboundRefused as refusal:
            raise SourceRefused(f"{DOWNLOAD_FAILED}: {refusal}") from refusal
        except OutboundUnavailable as failure:
            raise SourceUnavailable(f"{DOWNLOAD_FAILED}: {failure}") from failure
        info = await self._encoder.probe(destination)
        validate(info, self._limits)
        return info
