"""Gallery use cases: uploads, confirmation, listing, details, changes, deletion."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from videoforge.gallery.domain.ports import JobScheduler, MediaProber, Upload, VideoQuery, VideoRepository
from videoforge.gallery.domain.videos import (
    MAX_TITLE,
    STATES,
    JobSnapshot,
    JobTicket,
    Video,
    bare_id,
    check_description,
    check_title,
    check_visibility,
    ensure_manageable,
    ensure_viewable,
    video_not_found,
)
from videoforge.gallery.service_layer.view_counter import ViewCounter
from videoforge.kit.address_policy import AddressPolicy
from videoforge.kit.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted, require
from videoforge.kit.ids import id_named_by, new_id
from videoforge.kit.paging import PageInfo, page_info, page_request, parse_filter
from videoforge.kit.principal import Principal, require_admin, require_user
from videoforge.kit.recent_reads import RecentReads
from videoforge.media_model import (
    DEFAULT_ENCODING,
    UPLOADS_ROOT,
    EncodingOptions,
    MediaSummary,
    parse_formats,
    upload_folder,
    upload_key,
    upload_prefix,
)
from videoforge.published_captions import captions_prefix
from videoforge.storage.guard import GuardedMedia
from videoforge.storage.port import BlobStore, UploadedPart

# An object younger than this may still be getting its upload row (rows are written before URLs are handed
# out, so an hour is generous).
UNRECORDED_GRACE = timedelta(hours=1)
# S3 numbers parts 1 to 10,000; larger files get larger parts.
MAX_PARTS = 10_000
# Lists count matches exactly up to these; beyond, the total is flagged as a lower bound ("1,000+ results").
LIST_COUNT_CAP, SEARCH_COUNT_CAP = 10_000, 1_000
ALLOWED_CONTENT_TYPES = ("video/", "application/octet-stream")
# The uploads table's column; real types (`video/x-matroska; codecs="..."`) are far shorter.
MAX_CONTENT_TYPE = 100
MAX_REQUEST_ID = 100
UPDATABLE_FIELDS = ("title", "description", "visibility")


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    multipart_threshold: int  # the largest single PUT (S3 allows 5 GiB)
    part_bytes: int
    url_seconds: int
    quota_bytes: int = 100 * 1024**3  # per user, of uploaded originals
    # Uploads never confirmed and multipart uploads left open this long are abandoned.
    abandoned_after: timedelta = timedelta(hours=24)


@dataclass
class UploadGrant:
    key: str
    expires_in: int
    upload_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    upload_id: str = ""
    part_size: int = 0
    part_urls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UploadsReport:
    never_confirmed: list[str]
    orphaned_objects: list[str]
    incomplete_multipart: list[str]
    freed_bytes: int
    applied: bool


@dataclass(frozen=True)
class Paging:
    page_size: int = 0
    page_token: str = ""
    page: int = 0
    limit: int = 0
    filter: str = ""
    order_by: str = ""
    search: str = ""


class Gallery:
    def __init__(
        self,
        videos: VideoRepository,
        blobs: BlobStore,
        prober: MediaProber,
        jobs: JobScheduler,
        limits: UploadLimits,
        *,
        default_formats: list[str],
        auto_transcode: bool,
        import_policy: AddressPolicy | None = None,
    ) -> None:
        self._videos, self._blobs, self._prober, self._jobs = videos, blobs, prober, jobs
        self._media = GuardedMedia(blobs, videos.referenced_sources)
        # Opened by many at once, a video is read once a second; what this process changes shows at once.
        self._hot: RecentReads[str, Video | None] = RecentReads()
        self.views = ViewCounter(videos, on_added=lambda video_ids: self._hot.forget(*video_ids))
        self._limits = limits
        self._default_formats, self._auto_transcode = default_formats, auto_transcode
        # What the URL alone tells is checked here, at once; the worker checks the addresses it resolves.
        self._import_policy = import_policy or AddressPolicy()

    # Uploads

    async def create_upload_url(
        self, filename: str, content_type: str, size: int, *, multipart: bool = False
    ) -> UploadGrant:
        principal = require_user()
        filename = require(filename, "filename")[:300]
        content_type = (content_type.strip() or mimetypes.guess_type(filename)[0] or "").lower()
        if len(content_type) > MAX_CONTENT_TYPE:
            raise InvalidArgument.for_field(
                "content_type", f"must be at most {MAX_CONTENT_TYPE} characters", "CONTENT_TYPE_TOO_LONG"
            )
        if not content_type.startswith(ALLOWED_CONTENT_TYPES):
            raise InvalidArgument.for_field(
                "content_type", f"must be a video/* type, not {content_type or 'empty'!r}", "UNSUPPORTED_TYPE"
            )
        if size < 0:
            raise InvalidArgument.for_field("size", "must be the file's size in bytes", "BAD_SIZE")
        if size > self._limits.max_bytes:
            raise InvalidArgument.for_field(
                "size", f"{size} bytes is over the {self._limits.max_bytes}-byte upload limit", "FILE_TOO_LARGE"
            )
        if multipart and not size:
            raise InvalidArgument.for_field("size", "a multipart upload needs the file's size", "MISSING_FIELD")
        await self._check_quota(principal.user_id, size)
        key = upload_key(principal.user_id, new_id())
        grant = UploadGrant(key=key, expires_in=self._limits.url_seconds)
        if multipart or size > self._limits.multipart_threshold:
            grant.upload_id = await self._blobs.create_multipart(key, content_type)
            grant.part_size = max(self._limits.part_bytes, -(-size // MAX_PARTS))
            grant.part_urls = [
                await self._blobs.presign_part(
                    key, grant.upload_id, number, expires=self._limits.url_seconds, content_length=length
                )
                for number, length in enumerate(_part_lengths(size, grant.part_size), start=1)
            ]
        else:
            # The signature pins type and length: a client cannot store more than it declared. A client that
            # gave no size gets a PUT of any length, which the store caps at its single-PUT limit (5 GiB); the
            # confirm refuses and deletes a file over the maximum or the quota.
            grant.upload_url, grant.headers = await self._blobs.presign_put(
                key, content_type, expires=self._limits.url_seconds, content_length=size or None
            )
        await self._videos.add_upload(
            Upload(key, principal.user_id, filename, content_type, size, grant.upload_id, None, datetime.now(UTC))
        )
        return grant

    async def _check_quota(self, owner_id: str, adding: int, *, replacing: int = 0) -> None:
        used = await self._videos.storage_used(owner_id) - replacing
        quota = self._limits.quota_bytes
        if used + adding > quota:
            raise ResourceExhausted(
                f"This upload needs {adding} bytes but your storage quota has {max(quota - used, 0)} of "
                f"{quota} left; delete videos you no longer need, then try again.",
                "STORAGE_QUOTA_EXCEEDED",
            )

    async def _own_upload(self, key: str) -> Upload:
        principal = require_user()
        key = require(key, "s3_key")
        upload = await self._videos.get_upload(key)
        # Keys of other users answer like unknown keys.
        if (
            upload is None
            or upload.owner_id != principal.user_id
            or not key.startswith(upload_prefix(principal.user_id))
        ):
            raise NotFound(f"No upload {key!r}; ask for an upload URL first.", "UPLOAD_NOT_FOUND")
        return upload

    async def complete_upload(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        upload = await self._own_upload(key)
        if not upload_id or upload_id != upload.multipart_upload_id:
            raise InvalidArgument.for_field("upload_id", "does not belong to this upload", "BAD_UPLOAD_ID")
        if not parts:
            raise InvalidArgument.for_field("parts", "list every part with its ETag", "MISSING_FIELD")
        await self._blobs.complete_multipart(key, upload_id, [UploadedPart(n, etag) for n, etag in sorted(parts)])
        return key

    async def abort_upload(self, key: str, upload_id: str) -> None:
        upload = await self._own_upload(key)
        if upload_id != upload.multipart_upload_id:
            raise InvalidArgument.for_field("upload_id", "does not belong to this upload", "BAD_UPLOAD_ID")
        await self._blobs.abort_multipart(key, upload_id)

    async def confirm_upload(
        self,
        key: str,
        title: str,
        description: str,
        visibility: str,
        formats: list[str],
        options: EncodingOptions = DEFAULT_ENCODING,
    ) -> Video:
        principal = require_user()
        title, description = check_title(title), check_description(description)
        visibility = check_visibility(visibility)
        upload = await self._own_upload(key)
        wanted = formats or self._default_formats
        transcode = bool(formats) or self._auto_transcode
        if upload.video_id:
            # A repeated confirm: finish what the first one may not have (its job), never do it twice.
            video = await self._get(upload.video_id)
            if transcode and not video.latest_job.job_id:
                video = await self._start_first_job(video, wanted, options)
            return video
        info = await self._blobs.head(key)
        if info is None:
            raise FailedPrecondition(f"Nothing was uploaded to {key!r} yet; send the file first.", "NOT_UPLOADED")
        if info.size > self._limits.max_bytes:
            await self._media.delete(key)
            raise InvalidArgument(f"The file is over the {self._limits.max_bytes}-byte limit.", "FILE_TOO_LARGE")
        try:
            await self._check_quota(principal.user_id, info.size, replacing=upload.size)
        except ResourceExhausted:
            await self._media.delete(key)  # not kept: it would hold space past the quota
            raise
        try:
            media = await self._prober.probe(key)
        except InvalidArgument:
            # What is not a playable video is not kept.
            await self._media.delete(key)
            raise
        if upload.multipart_upload_id:
            await self._blobs.mark_kept(key)  # before the video exists: a source never carries the pending tag
        video = _new_video(principal.user_id, title, description, visibility, key, media, upload.filename)
        video = await self._videos.add_video_for_upload(video, key)
        if transcode:
            video = await self._start_first_job(video, wanted, options)
        return video

    async def import_video(
        self,
        url: str,
        title: str,
        description: str,
        visibility: str,
        formats: list[str],
        options: EncodingOptions = DEFAULT_ENCODING,
        *,
        url_field: str = "url",
        request_id: str = "",
    ) -> tuple[Video, JobTicket]:
        """A video whose source is at a URL: created at once with its job, which fetches the file (through the
        outbound policy), checks and probes it as uploads are, stores it as the source and transcodes it.
        With `request_id`, a repeat answers the video and job the first request made."""
        principal = require_user()
        _check_request_id(request_id)
        title, description = check_title(title), check_description(description)
        visibility = check_visibility(visibility)
        url = self._import_policy.checked_url(url, url_field)
        parse_formats(formats)  # a bad format is refused before anything is stored
        # The file's size is known only once its job fetched it; an import is refused once the quota is used up.
        if await self._videos.storage_used(principal.user_id) >= self._limits.quota_bytes:
            raise ResourceExhausted(
                "Your storage quota is used up; delete videos you no longer need, then import again.",
                "STORAGE_QUOTA_EXCEEDED",
            )
        now = datetime.now(UTC)
        # Keyed by the request when it has an id: a repeat meets the upload, video and job the first one made.
        key = upload_key(principal.user_id, id_named_by(f"import/{request_id}") if request_id else new_id())
        filename = _file_name(url)
        await self._videos.add_upload(Upload(key, principal.user_id, filename, "", 0, "", None, now))
        video = _new_video(
            principal.user_id, title, description, visibility, key, MediaSummary(), filename, source_url=url
        )
        video = await self._videos.add_video_for_upload(video, key)
        ticket = await self._start_job(video, formats or self._default_formats, f"import-{video.id}", options)
        return await self._get(video.id), ticket

    async def _start_first_job(self, video: Video, formats: list[str], options: EncodingOptions) -> Video:
        # Keyed by the video: a retried confirm finds the job the first one created.
        await self._start_job(video, formats, f"confirm-{video.id}", options)
        return await self._get(video.id)

    async def _start_job(
        self,
        video: Video,
        formats: list[str],
        request_id: str,
        options: EncodingOptions = DEFAULT_ENCODING,
        *,
        reuse_covering: bool = False,
    ) -> JobTicket:
        ticket = await self._jobs.start_job(video, formats, request_id, options, reuse_covering=reuse_covering)
        await self._videos.note_new_job(video.id, ticket.snapshot)
        self._hot.forget(video.id)
        return ticket

    async def create_video_job(
        self,
        video_id: str,
        input_source: str,
        formats: list[str],
        options: EncodingOptions = DEFAULT_ENCODING,
        *,
        reuse_covering: bool = False,
        request_id: str = "",
    ) -> tuple[Video, JobTicket]:
        """A transcode the owner asked for: by video id, or by the key they uploaded it under. With
        `reuse_covering`, a running or completed job that makes every requested format answers instead. With
        `request_id`, a repeat answers the job the first request started."""
        principal = require_user()
        _check_request_id(request_id)
        if not video_id.strip() and not input_source.strip():
            raise InvalidArgument.for_field("video_id", "give a video id or an uploaded input_source", "MISSING_FIELD")
        if "://" in input_source:
            # The original API's import: a new video, private since only a transcode was asked for.
            url = input_source.strip()
            title = _file_name(url)[:MAX_TITLE]
            return await self.import_video(
                url, title, "", "private", formats, options, url_field="input_source", request_id=request_id
            )
        video = await self.lookup_video(principal, video_id, input_source)
        video = ensure_manageable(video, video.id, principal)
        # The job service starts one job per request id: a repeat of this request meets the job it started.
        job_request = id_named_by(f"job/{principal.user_id}/{request_id}") if request_id else new_id()
        ticket = await self._start_job(video, formats, job_request, options, reuse_covering=reuse_covering)
        return video, replace(ticket, reused=ticket.snapshot.job_id == video.latest_job.job_id)

    async def reconcile_uploads(self, apply: bool) -> UploadsReport:
        """Uploads never confirmed in time, source objects nothing records, and multipart uploads left open as
        long; with `apply`, deleted. A video's source is never touched (the guard checks)."""
        require_admin()
        return await self._reconcile(apply)

    async def sweep_uploads(self) -> UploadsReport:
        """The platform's own periodic cleanup: what `reconcile_uploads` finds, deleted."""
        return await self._reconcile(apply=True)

    async def _reconcile(self, apply: bool) -> UploadsReport:
        now = datetime.now(UTC)
        abandoned = now - self._limits.abandoned_after
        stale = await self._videos.unconfirmed_uploads(abandoned)
        objects = await self._blobs.list(UPLOADS_ROOT)
        known = await self._videos.known_upload_keys()
        unrecorded = [o for o in objects if o.key not in known and _older(o.last_modified, now - UNRECORDED_GRACE)]
        open_uploads = [
            u for u in await self._blobs.open_multipart_uploads(UPLOADS_ROOT) if _older(u.initiated, abandoned)
        ]
        sizes = {o.key: o.size for o in objects}
        freed = sum(sizes.get(u.key, 0) for u in stale) + sum(o.size for o in unrecorded)
        if apply:
            for open_upload in open_uploads:
                await self._blobs.abort_multipart(open_upload.key, open_upload.upload_id)
            for upload in stale:
                await self._media.delete_prefix(upload_folder(upload.key))
                await self._videos.delete_upload(upload.key)
            for orphan in unrecorded:
                await self._media.delete(orphan.key)
        return UploadsReport(
            never_confirmed=[u.key for u in stale],
            orphaned_objects=[o.key for o in unrecorded],
            incomplete_multipart=[u.key for u in open_uploads],
            freed_bytes=freed,
            applied=apply,
        )

    # Reading

    async def list_videos(self, principal: Principal | None, paging: Paging) -> tuple[list[Video], PageInfo]:
        terms = parse_filter(paging.filter, ("status", "owner"))
        owner = terms.get("owner", "")
        if owner == "me":
            owner = require_user().user_id
        return await self._page(principal, paging, owner_id=owner, state=self._state_filter(terms))

    async def list_my_videos(self, paging: Paging) -> tuple[list[Video], PageInfo]:
        principal = require_user()
        terms = parse_filter(paging.filter, ("status",))
        return await self._page(principal, paging, only_owner=True, state=self._state_filter(terms))

    @staticmethod
    def _state_filter(terms: dict[str, str]) -> str:
        state = terms.get("status", "").lower()
        if state and state not in STATES:
            raise InvalidArgument.for_field("filter", f"status must be one of {', '.join(STATES)}", "BAD_FILTER")
        return state

    async def _page(
        self, principal: Principal | None, paging: Paging, **conditions: Any
    ) -> tuple[list[Video], PageInfo]:
        request = page_request(
            page_size=paging.page_size, page_token=paging.page_token, page=paging.page, limit=paging.limit
        )
        order = " ".join(paging.order_by.split()) or "create_time desc"
        if order not in ("create_time desc", "create_time", "view_count desc"):
            raise InvalidArgument.for_field(
                "order_by", "use 'create_time desc', 'create_time' or 'view_count desc'", "BAD_ORDER"
            )
        query = VideoQuery(
            viewer_id=principal.user_id if principal else None,
            offset=request.offset,
            limit=request.limit,
            search=paging.search.strip()[:200],
            order_by=order,
            count_cap=SEARCH_COUNT_CAP if paging.search.strip() else LIST_COUNT_CAP,
            **conditions,
        )
        videos, total = await self._videos.list(query)
        return videos, page_info(request, len(videos), total, cap=query.count_cap)

    async def get_video(self, principal: Principal | None, name: str) -> Video:
        video_id = bare_id(require(name, "name"))
        video = ensure_viewable(await self._recent(video_id), video_id, principal)
        # The view is added to the stored total within a second; the caller sees it counted at once.
        return replace(video, view_count=video.view_count + self.views.count(video.id))

    async def lookup_video(self, principal: Principal | None, name: str, source_key: str = "") -> Video:
        if source_key.strip() and not name.strip():
            video = await self._videos.by_source_key(source_key.strip())
            return ensure_viewable(video, source_key.strip(), principal)
        video_id = bare_id(require(name, "name"))
        return ensure_viewable(await self._recent(video_id), video_id, principal)

    def changed(self, video_id: str) -> None:
        """Told of a change made in this process outside these use cases (an applied job event): reads show it."""
        self._hot.forget(video_id)

    async def _recent(self, video_id: str) -> Video | None:
        # A missing video is kept too: asking again for one that is not there costs as much.
        return await self._hot.get(video_id, lambda: self._videos.get(video_id), keep=lambda _: True)

    async def _get(self, video_id: str) -> Video:
        video = await self._videos.get(video_id)
        if video is None:
            raise video_not_found(video_id)
        return video

    # Changing

    async def update_video(self, name: str, changes: dict[str, str], mask: list[str]) -> Video:
        principal = require_user()
        video_id = bare_id(require(name, "video.name"))
        video = ensure_manageable(await self._videos.get(video_id), video_id, principal)
        paths = mask or [k for k, v in changes.items() if v]
        unknown = [p for p in paths if p not in UPDATABLE_FIELDS]
        if unknown:
            raise InvalidArgument.for_field(
                "update_mask", f"cannot update {', '.join(unknown)}; use {', '.join(UPDATABLE_FIELDS)}", "BAD_MASK"
            )
        checks = {"title": check_title, "description": check_description, "visibility": check_visibility}
        fields = {path: checks[path](changes.get(path, "")) for path in paths}
        if not fields:
            return video
        updated = await self._videos.update(video_id, fields)
        self._hot.forget(video_id)
        if updated is None:
            raise video_not_found(video_id)
        return updated

    async def delete_video(self, name: str) -> None:
        principal = require_user()
        video_id = bare_id(require(name, "name"))
        video = ensure_manageable(await self._videos.get(video_id), video_id, principal)
        # Jobs first, so a running transcode is stopped and its outputs go; then the row, so the guard sees
        # the source as unreferenced. A crash in between leaves orphans for `admin reconcile`, never a video
        # without its media.
        await self._jobs.purge_video_jobs(video.id)
        await self._videos.delete(video.id)
        self._hot.forget(video.id)
        await self._media.delete_prefix(upload_folder(video.source_key))
        await self._media.delete_prefix(captions_prefix(video.id))


def _part_lengths(size: int, part_size: int) -> list[int]:
    """Each part's exact length: full parts, then what is left."""
    return [min(part_size, size - start) for start in range(0, size, part_size)]


def _new_video(
    owner_id: str,
    title: str,
    description: str,
    visibility: str,
    source_key: str,
    media: MediaSummary,
    filename: str,
    *,
    source_url: str = "",
) -> Video:
    """A video just uploaded or imported: no job yet, no views."""
    now = datetime.now(UTC)
    return Video(
        id=new_id(),
        owner_id=owner_id,
        title=title,
        description=description,
        visibility=visibility,
        state="uploaded",
        source_key=source_key,
        media=media,
        view_count=0,
        latest_job=JobSnapshot(),
        create_time=now,
        update_time=now,
        filename=filename,
        source_url=source_url,
    )


def _file_name(url: str) -> str:
    """The last part of the URL's path, as an uploader's file name is kept; metadata only."""
    try:
        parts = urlsplit(url)
        name = PurePosixPath(parts.path).name or parts.hostname
    except ValueError:
        name = ""  # the URL check says what is wrong with it
    return (name or "imported-video")[:300]


def _older(moment: datetime | None, cutoff: datetime) -> bool:
    return moment is not None and moment < cutoff


def _check_request_id(request_id: str) -> None:
    if len(request_id) > MAX_REQUEST_ID:
        raise InvalidArgument.for_field("request_id", f"must be at most {MAX_REQUEST_ID} characters")
