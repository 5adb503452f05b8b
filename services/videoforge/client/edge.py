"""A client of the edge's public JSON routes: what the CLI and the end-to-end tests speak."""

from __future__ import annotations

import json
import mimetypes
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# Bytes sent → progress callback, for progress bars.
Progress = Callable[[int], None]
UPLOAD_CHUNK = 1024 * 1024
FINAL_JOB_STATES = ("COMPLETED", "FAILED", "CANCELLED")
CONFIRM_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0)
# A watch stream that ended before sending anything is opened again after this pause, not at once.
WATCH_RESUME_PAUSE_SECONDS = 1.0


@dataclass
class ApiError(Exception):
    """An error answer from the platform: HTTP status, the server's reason and message."""

    status: int
    message: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status})"


class EdgeClient:
    def __init__(self, base_url: str, token: str = "", *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EdgeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Plumbing

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self._http.request(method, path, headers=self._headers(), **kwargs)
        return _json_or_raise(reply)

    # Accounts

    def register(self, email: str, password: str, display_name: str = "") -> dict[str, Any]:
        session = self.request(
            "POST", "/api/auth/register", json={"email": email, "password": password, "displayName": display_name}
        )
        self.token = session["accessToken"]
        return session

    def login(self, email: str, password: str) -> dict[str, Any]:
        session = self.request("POST", "/api/auth/login", json={"email": email, "password": password})
        self.token = session["accessToken"]
        return session

    # Uploads

    def upload(
        self,
        path: Path,
        *,
        title: str,
        description: str = "",
        visibility: str = "public",
        formats: list[str] | None = None,
        content_type: str = "",
        on_progress: Progress | None = None,
        codecs: list[str] | None = None,
        protection: str = "",
    ) -> dict[str, Any]:
        """Uploads a file straight to the object store (one PUT or multipart), then confirms it."""
        key = self.send_file(path, content_type=content_type, on_progress=on_progress)
        return self.confirm(
            key,
            title=title,
            description=description,
            visibility=visibility,
            formats=formats,
            codecs=codecs,
            protection=protection,
        )

    def import_video(
        self,
        url: str,
        *,
        title: str,
        description: str = "",
        visibility: str = "public",
        formats: list[str] | None = None,
        codecs: list[str] | None = None,
        protection: str = "",
        request_id: str = "",
    ) -> dict[str, Any]:
        """A video from a file at an https URL: answered at once, with the job that fetches and transcodes it.
        `request_id` (a fresh UUID when not given) makes sending it again safe: the repeat answers the same video."""
        body: dict[str, Any] = {"url": url, "title": title, "description": description, "visibility": visibility}
        body["requestId"] = request_id or str(uuid.uuid4())
        body |= _transcode_fields(formats, codecs, protection)
        return self.request("POST", "/v1/videos:import", json=body)

    def send_file(self, path: Path, *, content_type: str = "", on_progress: Progress | None = None) -> str:
        """Puts the file's bytes in the object store; returns the key to confirm."""
        content_type = content_type or mimetypes.guess_type(path.name)[0] or "video/mp4"
        grant = self.request(
            "POST",
            "/api/upload/url",
            json={"filename": path.name, "contentType": content_type, "size": path.stat().st_size},
        )
        if grant.get("multipart"):
            self._send_parts(path, grant, on_progress)
        else:
            self._send_whole(path, grant, on_progress)
        return str(grant["s3Key"])

    def confirm(
        self,
        key: str,
        *,
        title: str,
        description: str = "",
        visibility: str = "public",
        formats: list[str] | None = None,
        codecs: list[str] | None = None,
        protection: str = "",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"s3Key": key, "title": title, "description": description, "visibility": visibility}
        body |= _transcode_fields(formats, codecs, protection)
        # Confirming a key twice answers the video the first confirm made, so a busy or restarting platform
        # (503, 504) is simply asked again.
        for delay in CONFIRM_RETRY_SECONDS:
            try:
                return self.request("POST", "/v1/videos", json=body)
            except ApiError as error:
                if error.status not in (503, 504):
                    raise
            time.sleep(delay)
        return self.request("POST", "/v1/videos", json=body)

    def _send_whole(self, path: Path, grant: dict[str, Any], on_progress: Progress | None) -> None:
        def chunks() -> Iterator[bytes]:
            with path.open("rb") as file:
                while chunk := file.read(UPLOAD_CHUNK):
                    yield chunk
                    if on_progress:
                        on_progress(len(chunk))

        headers = {**grant.get("headers", {}), "Content-Length": str(path.stat().st_size)}
        reply = httpx.put(grant["uploadUrl"], content=chunks(), headers=headers, timeout=None)
        if reply.status_code >= 300:
            raise ApiError(reply.status_code, f"The object store refused the upload: {reply.text[:300]}")

    def _send_parts(self, path: Path, grant: dict[str, Any], on_progress: Progress | None) -> None:
        multipart = grant["multipart"]
        part_size = int(multipart["partSize"])
        done = []
        try:
            with path.open("rb") as file:
                for part in multipart["parts"]:
                    data = file.read(part_size)
                    reply = httpx.put(part["uploadUrl"], content=data, timeout=None)
                    if reply.status_code >= 300:
                        raise ApiError(reply.status_code, f"The object store refused part {part['partNumber']}")
                    done.append({"partNumber": part["partNumber"], "etag": reply.headers["etag"].strip('"')})
                    if on_progress:
                        on_progress(len(data))
        except BaseException:
            self.request("POST", "/api/upload/abort", json={"s3Key": grant["s3Key"], "uploadId": multipart["uploadId"]})
            raise
        self.request(
            "POST",
            "/api/upload/complete",
            json={"s3Key": grant["s3Key"], "uploadId": multipart["uploadId"], "parts": done},
        )

    # Jobs

    def watch_job(self, job_id: str, *, timeout: float = 600.0) -> Iterator[dict[str, Any]]:
        """Each state of the job as the server streams it (one JSON object per line), until a final one. The
        server ends each stream after a while; the watch then resumes with a new one."""
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = {}
            for job in self._watch_stream(job_id, max(deadline - time.monotonic(), 1.0)):
                yield job
                if job.get("status") in FINAL_JOB_STATES:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} did not end within {timeout} s")
            if not job:
                time.sleep(WATCH_RESUME_PAUSE_SECONDS)

    def _watch_stream(self, job_id: str, timeout: float) -> Iterator[dict[str, Any]]:
        with self._http.stream(
            "GET", f"/api/jobs/{job_id}/watch", headers=self._headers(), timeout=httpx.Timeout(timeout, connect=10)
        ) as reply:
            if reply.status_code >= 300:
                reply.read()
                _json_or_raise(reply)
            for line in reply.iter_lines():
                if line.strip():
                    job = json.loads(line)
                    yield job.get("result", job)

    def wait_for_job(self, job_id: str, *, timeout: float = 600.0) -> dict[str, Any]:
        """The job once final and once its video shows that, so what follows reads the video as the job left it."""
        last: dict[str, Any] = {}
        for last in self.watch_job(job_id, timeout=timeout):
            if last.get("status") in FINAL_JOB_STATES:
                break
        if last.get("videoId"):
            try:
                self.wait_for_video(last["videoId"], job_id, or_other_job=True)
            except ApiError as error:
                if error.status not in (403, 404):  # a video deleted, or not the caller's to read, has nothing to show
                    raise
        return last

    def wait_for_video(
        self, video_id: str, job_id: str, *, timeout: float = 30.0, or_other_job: bool = False
    ) -> dict[str, Any]:
        """The video once it shows the job's final state: job events reach the gallery a moment after the job
        itself changes. With `or_other_job`, also once it shows another job (a newer one has taken over)."""
        deadline = time.monotonic() + timeout
        while True:
            video = self.request("GET", f"/v1/videos/{video_id}")
            job = video.get("latestJob") or {}
            if job.get("jobId") == job_id and job.get("state") in FINAL_JOB_STATES:
                return video
            if or_other_job and job.get("jobId") != job_id:
                return video
            if time.monotonic() > deadline:
                raise TimeoutError(f"video {video_id} did not show the end of job {job_id} within {timeout} s")
            time.sleep(0.1)


def _json_or_raise(reply: httpx.Response) -> Any:
    try:
        body = reply.json() if reply.content else {}
    except json.JSONDecodeError:
        body = {"message": reply.text[:500]}
    if reply.status_code >= 300:
        details = body.get("details") or [{}]
        reason = next((d.get("reason", "") for d in details if isinstance(d, dict)), "")
        raise ApiError(reply.status_code, body.get("message") or reply.reason_phrase, reason)
    return body


def _transcode_fields(formats: list[str] | None, codecs: list[str] | None, protection: str) -> dict[str, Any]:
    """What a confirm or import asks of its transcode, leaving out what follows the server's defaults."""
    fields: dict[str, Any] = {"formats": formats, "codecs": codecs, "protection": protection}
    return {name: value for name, value in fields.items() if value}
