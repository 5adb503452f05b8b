"""Playback use cases: which renditions a video has, and signed URLs to play them."""

from __future__ import annotations

import base64
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from videoforge.content_protection import ContentKey
from videoforge.kit.cdn import GrantRefused, GrantVerifier, MediaSigner, SignedGrant
from videoforge.kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, require
from videoforge.kit.lru_cache import LruCache
from videoforge.kit.principal import current_principal
from videoforge.kit.recent_reads import RecentReads
from videoforge.media_model import (
    Rendition,
    is_upload_source_key,
    is_video_key,
    output_folder,
    parse_formats,
    video_outputs_prefix,
    video_prefix,
)
from videoforge.published_captions import captions_index_key, read_index
from videoforge.storage.port import BlobNotFound, BlobStore
from videoforge.streaming.domain.caption_manifests import dash_with_captions, hls_with_captions, is_master_playlist
from videoforge.streaming.domain.manifests import content_type, is_manifest, rewrite_dash, rewrite_hls
from videoforge.streaming.domain.ports import PlayableOutput, PublishedOutputs, VideoCatalog, VisibleVideo
from videoforge.streaming.domain.protection import (
    AES_128,
    CLEARKEY,
    JsonWebKey,
    clearkey_license,
    dash_with_clearkey,
    hls_with_aes128,
    plays_over,
)

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# The identifiers of a DASH SegmentTemplate (ISO/IEC 23009-1 5.3.9.4.4), with their optional width.
_TEMPLATE_IDENTIFIER = re.compile(r"\$(?:RepresentationID|Number|Bandwidth|Time)(?:%0\d+d)?\$")
OUTPUTS_CACHED = 10_000
# How long the job service's answer for a video not yet published is shared: viewers waiting for a video to play
# ask again and again while its transcode runs on the same machines; a quarter second late is still within a
# player's first segment fetch.
UNSETTLED_SECONDS = 0.25
_NOT_READY = {
    "uploaded": "The video has not been transcoded yet; start a job with POST /api/jobs.",
    "processing": "The video is still being transcoded; it plays as soon as its first segments are out.",
    "failed": "The video's transcode failed; see its job for the reason, then retry it.",
}


@dataclass(frozen=True)
class StreamUrls:
    rendition: Rendition
    url: str
    mp4_url: str


@dataclass(frozen=True)
class VideoStreamUrl:
    url: str
    # `hls` or `source`.
    kind: str


@dataclass(frozen=True)
class PlaybackUrls:
    hls_url: str
    dash_url: str
    thumbnail_url: str
    preview_url: str
    storyboard_url: str
    qualities: list[Rendition]
    duration_seconds: float
    # The video is still being transcoded: the manifests grow until its job completes.
    live: bool = False


class Playback:
    def __init__(
        self,
        videos: VideoCatalog,
        outputs: PublishedOutputs,
        blobs: BlobStore,
        signer: MediaSigner,
        verifier: GrantVerifier,
        *,
        api_base_url: str,
        seconds: int,
    ) -> None:
        self._videos, self._outputs, self._blobs = videos, outputs, blobs
        self._signer, self._verifier = signer, verifier
        self._api_base, self.seconds = api_base_url.rstrip("/"), seconds
        # A job's output never changes once it plays: read once per job, not once per call.
        self._outputs_by_job: LruCache[str, PlayableOutput] = LruCache(OUTPUTS_CACHED)
        # What each video plays from as its manifests and keys are served (asked by grant, not by a person).
        self._outputs_by_video: LruCache[str, PlayableOutput] = LruCache(OUTPUTS_CACHED)
        # A video open to all, as the gallery answered within the last second: the same answer for every viewer.
        self._open_videos: RecentReads[str, VisibleVideo] = RecentReads()
        # What a video no job has published yet plays (nothing, or a running job's growing output), for every
        # viewer who may see it: one read per video each UNSETTLED_SECONDS, not one per viewer's poll.
        self._unsettled: RecentReads[str, PlayableOutput | None] = RecentReads(seconds=UNSETTLED_SECONDS)

    async def _visible(self, video_id: str) -> VisibleVideo:
        video_id = require(video_id, "video_id")
        principal = current_principal()
        # The gallery decides who may see the video; a private one answers NOT_FOUND to others.
        return await self._open_videos.get(
            video_id,
            lambda: self._videos.visible_video(video_id, principal.token if principal else ""),
            keep=lambda video: video.open_to_all,
        )

    async def _output(self, video_id: str) -> PlayableOutput:
        video = await self._visible(video_id)
        try:
            return await self._published(video)
        except NotFound as exc:
            raise FailedPrecondition(_NOT_READY.get(video.status, _NOT_READY["uploaded"]), "NOT_READY") from exc

    async def _published(self, video: VisibleVideo) -> PlayableOutput:
        """What the video plays from: the kept output of the job the gallery names, or else (none named yet,
        or just switched) the job service's answer, shared for UNSETTLED_SECONDS while none is named."""
        if video.published_job_id and (kept := self._outputs_by_job.get(video.published_job_id)) is not None:
            return kept
        if video.published_job_id:
            # A job just published: its answer, read afresh, not one read while another played.
            output = await self._playable(video.id)
        else:
            output = await self._unsettled.get(video.id, lambda: self._playable(video.id), keep=lambda _: True)
        if output is None:
            raise NotFound("The video has no playable output yet.", "NOT_READY")
        if not output.live:  # a growing output is its job's completed output only once the job completes
            self._outputs_by_job.put(output.job_id, output)
        return output

    async def _playable(self, video_id: str) -> PlayableOutput | None:
        try:
            return await self._outputs.published(video_id)
        except NotFound:
            return None

    def _grant(self, video_id: str) -> SignedGrant:
        return self._signer.grant(video_prefix(video_id).rstrip("/"), self.seconds)

    def _media_url(self, video_id: str, key: str, grant: SignedGrant) -> str:
        return self._signer.url(_own_key(video_id, key), grant)

    def _manifest_url(self, video_id: str, key: str, grant: SignedGrant) -> str:
        relative = _own_key(video_id, key).removeprefix(video_prefix(video_id))
        return self._granted_url(video_id, f"manifest/{quote(relative)}", grant)

    def _granted_url(self, video_id: str, route: str, grant: SignedGrant) -> str:
        """A route of the streaming API under the video that carries the grant (manifests, key, licence)."""
        token = base64.urlsafe_b64encode(grant.query_string.encode()).decode().rstrip("=")
        return f"{self._api_base}/api/stream/{video_id}/{route}?token={token}"

    async def video_stream(self, video_id: str) -> VideoStreamUrl:
        """What any player opens: the adaptive HLS master once the video plays from a transcode (a growing one
        included), its source before that (never transcoded, or its first transcode has no segment out yet)."""
        video = await self._visible(video_id)
        try:
            output = await self._published(video)
        except NotFound:
            if not video.source_key:
                raise FailedPrecondition("The video has no source to stream.", "NOT_READY") from None
            if not is_upload_source_key(video.source_key):
                raise FailedPrecondition("The video's source is not where uploads are kept.", "BAD_MEDIA_KEY") from None
            return VideoStreamUrl(self._signer.sign_key(video.source_key, self.seconds), "source")
        if "hls" not in plays_over(output.protection) and (mpd := output.asset("DASH_MANIFEST")) is not None:
            return VideoStreamUrl(self._manifest_url(video.id, mpd.key, self._grant(video.id)), "dash")
        master = output.asset("HLS_MASTER")
        if master is None:
            raise FailedPrecondition("The video's output has no HLS master playlist.", "NOT_READY")
        return VideoStreamUrl(self._manifest_url(video.id, master.key, self._grant(video.id)), "hls")

    async def qualities(self, video_id: str) -> list[Rendition]:
        return list((await self._output(video_id)).renditions)

    async def stream(self, video_id: str, quality: str) -> StreamUrls:
        output = await self._output(video_id)
        renditions = sorted(output.renditions, key=lambda r: r.height, reverse=True)
        if not renditions:
            raise FailedPrecondition("The video has no renditions.", "NOT_READY")
        chosen = renditions[0]
        if quality.strip():
            wanted = _quality_name(quality)
            match = next((r for r in renditions if r.name == wanted), None)
            if match is None:
                names = ", ".join(r.name for r in renditions)
                raise NotFound(f"The video has no {wanted} rendition; it has {names}.", "QUALITY_NOT_FOUND")
            chosen = match
        grant = self._grant(video_id)
        playlist = output.asset("HLS_PLAYLIST", chosen.name) if "hls" in plays_over(output.protection) else None
        mp4 = output.asset("MP4", chosen.name)
        return StreamUrls(
            rendition=chosen,
            url=self._manifest_url(video_id, playlist.key, grant) if playlist else "",
            mp4_url=self._media_url(video_id, mp4.key, grant) if mp4 else "",
        )

    async def playback(self, video_id: str) -> PlaybackUrls:
        output = await self._output(video_id)
        grant = self._grant(video_id)

        def media(kind: str) -> str:
            asset = output.asset(kind)
            return self._media_url(video_id, asset.key, grant) if asset else ""

        # A protected video is offered over the protocol its encryption plays in only.
        over = plays_over(output.protection)
        master = output.asset("HLS_MASTER") if "hls" in over else None
        mpd = output.asset("DASH_MANIFEST") if "dash" in over else None
        return PlaybackUrls(
            hls_url=self._manifest_url(video_id, master.key, grant) if master else "",
            dash_url=self._manifest_url(video_id, mpd.key, grant) if mpd else "",
            thumbnail_url=media("POSTER"),
            preview_url=media("PREVIEW"),
            storyboard_url=media("STORYBOARD_INDEX"),
            qualities=list(output.renditions),
            duration_seconds=output.duration_seconds,
            live=output.live,
        )

    async def thumbnail(self, video_id: str) -> str:
        output = await self._output(video_id)
        poster = output.asset("POSTER")
        if poster is None:
            raise NotFound("The video has no poster.", "NO_POSTER")
        return self._media_url(video_id, poster.key, self._grant(video_id))

    async def manifest(self, video_id: str, path: str, token: str) -> tuple[str, bytes]:
        """A stored manifest, rewritten with the same grant; the token is the grant the URL carries."""
        video_id, path = require(video_id, "video_id"), require(path, "path")
        normalised = posixpath.normpath(path)
        if normalised.startswith(("../", "/")) or normalised == ".." or not is_manifest(normalised):
            raise InvalidArgument.for_field("path", "must name a manifest of this video", "BAD_PATH")
        key = video_prefix(video_id) + normalised
        grant = self._grant_from_token(token, key)
        try:
            raw = await self._blobs.read_bytes(key, max_bytes=MAX_MANIFEST_BYTES)
        except BlobNotFound as exc:
            raise NotFound(f"No manifest {path!r}.", "MANIFEST_NOT_FOUND") from exc

        def sign(child: str) -> str:
            child_key = video_prefix(video_id) + child
            if is_manifest(child):
                return self._manifest_url(video_id, child_key, grant)
            return self._media_url(video_id, child_key, grant)

        text = await self._with_captions(video_id, normalised, raw.decode())
        rewrite = rewrite_hls if key.endswith(".m3u8") else rewrite_dash
        rewritten = await self._protected(video_id, key, rewrite(text, normalised, sign), grant)
        return content_type(key), rewritten.encode()

    async def _protected(self, video_id: str, key: str, text: str, grant: SignedGrant) -> str:
        """A manifest of a protected output with where its players get the key, carrying the same grant."""
        if not key.startswith(video_outputs_prefix(video_id)):
            return text  # captions' playlists: in the clear
        output = await self._serving_output(video_id, key)
        if output is None or output.content_key is None:
            return text
        if output.protection == CLEARKEY and key.endswith(".mpd"):
            return dash_with_clearkey(text, output.content_key, self._granted_url(video_id, "license", grant))
        if output.protection == AES_128 and key.endswith(".m3u8"):
            return hls_with_aes128(text, self._granted_url(video_id, "key", grant))
        return text

    async def content_key(self, video_id: str, token: str) -> bytes:
        """An `aes-128` video's key, for the holder of a playback grant of that video."""
        key = await self._granted_key(video_id, token, AES_128)
        return key.key

    async def clearkey_license(self, video_id: str, token: str, kids: list[str]) -> list[JsonWebKey]:
        """The keys a ClearKey licence request asks for that a `clearkey` video has, for the holder of a playback
        grant of that video."""
        key = await self._granted_key(video_id, token, CLEARKEY)
        try:
            return clearkey_license(kids, key)
        except ValueError as exc:
            raise InvalidArgument.for_field("license_request.kids", str(exc), "BAD_LICENSE_REQUEST") from exc

    async def _granted_key(self, video_id: str, token: str, protection: str) -> ContentKey:
        video_id = require(video_id, "video_id")
        # The grant must cover this video's own folder: one of another video, or none, opens nothing here.
        self._grant_from_token(token, video_prefix(video_id) + "key")
        output = await self._serving_output(video_id, protection=protection)
        if output is None or output.protection != protection or output.content_key is None:
            raise NotFound(f"The video has no {protection} key.", "NO_CONTENT_KEY")
        return output.content_key

    async def _serving_output(self, video_id: str, key: str = "", *, protection: str = "") -> PlayableOutput | None:
        """What the video plays from, as its manifests and keys are served: kept per video while a manifest asked
        for (`key`) lies in its folder, or, asked for a key, while it has that `protection`; asked again otherwise
        (a job's protection goes with its folder, and another replica may have seen a newer job). None while
        nothing plays."""
        kept = self._outputs_by_video.get(video_id)
        if kept is not None and (_in_output(kept, key) if key else kept.protection == protection):
            return kept
        output = await self._playable(video_id)
        if output is not None:
            self._outputs_by_video.put(video_id, output)
        return output

    async def _with_captions(self, video_id: str, path: str, text: str) -> str:
        """A master playlist or an MPD with the video's captions as the gallery last published them."""
        is_hls = path.endswith(".m3u8")
        if is_hls and not is_master_playlist(text):
            return text
        try:
            index = await self._blobs.read_bytes(captions_index_key(video_id), max_bytes=MAX_MANIFEST_BYTES)
        except BlobNotFound:
            return text
        return (hls_with_captions if is_hls else dash_with_captions)(text, path, read_index(index))

    def _grant_from_token(self, token: str, key: str) -> SignedGrant:
        try:
            query = dict(parse_qsl(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()))
            self._verifier.verify(query, f"{self._signer.base_url}/{key}")
        except (GrantRefused, ValueError, UnicodeDecodeError) as exc:
            raise PermissionDenied(
                f"The playback link is not valid ({exc}); ask for a new one from /api/stream/.../playback.",
                "BAD_PLAYBACK_GRANT",
            ) from exc
        return SignedGrant(query)


def _in_output(output: PlayableOutput, key: str) -> bool:
    return bool(output.assets) and key.startswith(output_folder(output.assets[0].key))


def _own_key(video_id: str, key: str) -> str:
    """`key`, if it lies in the video's own folder: whatever the job service or a stored manifest names, nothing
    outside `videos/{video}/` is ever signed for a playback of that video. A DASH segment template's identifiers
    (`$Number$`...) stand for plain segments, which the player fills in."""
    if not is_video_key(_TEMPLATE_IDENTIFIER.sub("0", key), video_id):
        raise FailedPrecondition("The video's output names a file outside the video.", "BAD_MEDIA_KEY")
    return key


def _quality_name(value: str) -> str:
    """A format name or alias; a source smaller than every rung has its own name, like `144p`."""
    try:
        return parse_formats([value])[0]
    except InvalidArgument:
        return value.strip().lower()
