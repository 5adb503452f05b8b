"""Commands for people using a running platform: sign in, upload, browse, watch, manage jobs."""

from __future__ import annotations

import contextlib
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from videoforge.cli.common import Json, Server, client_for
from videoforge.cli.output import emit, err, friendly_errors, out, table
from videoforge.cli.session import SavedSession
from videoforge.client.edge import FINAL_JOB_STATES, EdgeClient
from videoforge.kit.errors import InvalidArgument
from videoforge.media_model import EncodingOptions

videos_app = typer.Typer(help="Your videos: list, show, update, delete.", no_args_is_help=True)
jobs_app = typer.Typer(help="Transcode jobs: list, show, watch, cancel.", no_args_is_help=True)
VideoId = Annotated[str, typer.Argument(help="The video's id (see `videoforge videos list`).")]
JobId = Annotated[str, typer.Argument(help="The job's id (see `videoforge jobs list`).")]


def login(
    email: Annotated[str, typer.Option(prompt=True, help="Your account's email.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Your password.")],
    server: Server = None,
    register: Annotated[bool, typer.Option("--register", help="Create the account first.")] = False,
) -> None:
    """Sign in and remember the token (in your config directory, readable only by you).

    Example: [bold]videoforge login --email me@example.com --server http://127.0.0.1:8080[/bold]
    """
    url = (server or SavedSession.load().server).rstrip("/")
    with friendly_errors(url), EdgeClient(url) as client:
        session = client.register(email, password) if register else client.login(email, password)
    path = SavedSession(url, session["accessToken"], session["refreshToken"], email).save()
    out.print(f"Signed in to {url} as {email}. (Token saved in {path}.)")


def upload(
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, readable=True, help="The video file.")
    ] = None,
    url: Annotated[
        str, typer.Option(help="Import from this https URL instead of a file: the platform fetches it.")
    ] = "",
    title: Annotated[str | None, typer.Option(help="Title (default: the file name).")] = None,
    description: Annotated[str, typer.Option(help="Description.")] = "",
    visibility: Annotated[str, typer.Option(help="public, unlisted or private.")] = "public",
    formats: Annotated[str, typer.Option(help="Comma-separated: 1080p,720p or high,low (default: all that fit).")] = "",
    codecs: Annotated[
        str, typer.Option(help="Extra codecs' ladders besides H.264, comma-separated: hevc,av1 (slower to encode).")
    ] = "",
    protection: Annotated[
        str, typer.Option(help="clearkey (encrypted DASH) or aes-128 (encrypted HLS); default: in the clear.")
    ] = "",
    wait: Annotated[bool, typer.Option("--wait", help="Follow the transcode until the video is ready.")] = False,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Upload a video (progress bar for the bytes), or import one from a URL, and start its transcode.

    Example: [bold]videoforge upload holiday.mp4 --title "Holiday" --formats 1080p,480p --wait[/bold]
    Example: [bold]videoforge upload --url https://media.example.com/holiday.mp4 --wait[/bold]
    """
    if (file is None) == (not url):
        err.print("Give either a file to upload or --url to import from.")
        raise typer.Exit(2)
    wanted = _listed(formats)
    try:  # checked before any byte is sent
        EncodingOptions.parse(_listed(codecs), protection)
    except InvalidArgument as refusal:
        err.print(f"[red]{refusal.message}[/red]")
        raise typer.Exit(2) from refusal
    options: dict[str, Any] = {"codecs": _listed(codecs), "protection": protection}
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        if file is None:
            name = PurePosixPath(urlsplit(url).path).stem or "Imported video"
            video = client.import_video(
                url, title=title or name, description=description, visibility=visibility, formats=wanted, **options
            )
            out.print(f"Importing: video [bold]{video['id']}[/bold]; its job fetches the file.")
        else:
            with _bytes_progress(file.stat().st_size, f"Uploading {file.name}") as advance:
                video = client.upload(
                    file,
                    title=title or file.stem,
                    description=description,
                    visibility=visibility,
                    formats=wanted,
                    on_progress=advance,
                    **options,
                )
            out.print(f"Uploaded: video [bold]{video['id']}[/bold] ({video['status']}).")
        job_id = video.get("latestJob", {}).get("jobId", "")
        if wait and job_id:
            job = _follow_job(client, job_id)
            if job.get("status") != "COMPLETED":
                err.print(f"[red]The transcode ended {job.get('status')}:[/red] {_job_error(job)}")
                raise typer.Exit(1)
            client.wait_for_video(video["id"], job_id)
            _print_playback(client, video["id"], as_json)
        elif as_json:
            emit(video, as_json=True)


def play(
    video_id: VideoId,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the watch page in your browser.")] = False,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Print signed HLS and DASH URLs for a video (paste them into any player).

    Example: [bold]videoforge play 3f2a... --open[/bold]
    """
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        _print_playback(client, video_id, as_json)
    if open_browser:
        webbrowser.open(f"{client.base_url}/watch/{video_id}")


@videos_app.command("list")
def videos_list(
    search: Annotated[str, typer.Option(help="Full-text search in titles and descriptions.")] = "",
    mine: Annotated[bool, typer.Option("--mine", help="Only your videos, private ones included.")] = False,
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Videos per page.")] = 20,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """List public videos (and yours), newest first.

    Example: [bold]videoforge videos list --search holiday[/bold]
    """
    client = client_for(server)
    path = "/api/gallery/my-videos" if mine else "/v1/videos"
    with friendly_errors(client.base_url), client:
        reply = client.request("GET", path, params={"search": search, "page": page, "limit": limit})
    emit(reply, as_json=as_json, render=_render_videos)


@videos_app.command("show")
def videos_show(video_id: VideoId, server: Server = None, as_json: Json = False) -> None:
    """Show one video's details.

    Example: [bold]videoforge videos show 3f2a...[/bold]
    """
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        video = client.request("GET", f"/v1/videos/{video_id}")
    emit(video, as_json=as_json, render=_render_video)


@videos_app.command("update")
def videos_update(
    video_id: VideoId,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    visibility: Annotated[str | None, typer.Option(help="public, unlisted or private.")] = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Change a video's title, description or visibility.

    Example: [bold]videoforge videos update 3f2a... --visibility private[/bold]
    """
    changes = {k: v for k, v in {"title": title, "description": description, "visibility": visibility}.items() if v}
    if not changes:
        err.print("Nothing to change: give --title, --description or --visibility.")
        raise typer.Exit(2)
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        video = client.request(
            "PATCH", f"/v1/videos/{video_id}", params={"updateMask": ",".join(changes)}, json=changes
        )
    emit(video, as_json=as_json, render=_render_video)


@videos_app.command("delete")
def videos_delete(
    video_id: VideoId,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    server: Server = None,
) -> None:
    """Delete a video and every file it has (its running job is cancelled first).

    Example: [bold]videoforge videos delete 3f2a... --yes[/bold]
    """
    if not yes:
        typer.confirm(f"Delete video {video_id} and all its files?", abort=True)
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        client.request("DELETE", f"/v1/videos/{video_id}")
    out.print(f"Deleted video {video_id}.")


@jobs_app.command("list")
def jobs_list(
    state: Annotated[str, typer.Option(help="Only jobs in this state, e.g. FAILED.")] = "",
    server: Server = None,
    as_json: Json = False,
) -> None:
    """List your transcode jobs, newest first.

    Example: [bold]videoforge jobs list --state FAILED[/bold]
    """
    client = client_for(server)
    params = {"filter": f"state={state.upper()}"} if state else {}
    with friendly_errors(client.base_url), client:
        reply = client.request("GET", "/api/jobs", params=params)
    emit(reply, as_json=as_json, render=_render_jobs)


@jobs_app.command("show")
def jobs_show(job_id: JobId, server: Server = None, as_json: Json = False) -> None:
    """Show a job's state, progress and error.

    Example: [bold]videoforge jobs show 9b1c...[/bold]
    """
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        job = client.request("GET", f"/v1/jobs/{job_id}")
    emit(job, as_json=as_json, render=lambda j: _render_jobs({"jobs": [j]}))


@jobs_app.command("watch")
def jobs_watch(job_id: JobId, server: Server = None) -> None:
    """Follow a job live until it ends.

    Example: [bold]videoforge jobs watch 9b1c...[/bold]
    """
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        job = _follow_job(client, job_id)
    out.print(f"Job {job_id}: {job.get('status')}")
    if job.get("status") != "COMPLETED":
        raise typer.Exit(1)


@jobs_app.command("cancel")
def jobs_cancel(job_id: JobId, server: Server = None) -> None:
    """Cancel a job; its FFmpeg stops within seconds.

    Example: [bold]videoforge jobs cancel 9b1c...[/bold]
    """
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        job = client.request("POST", f"/api/jobs/{job_id}/cancel", json={})
    out.print(f"Job {job_id}: {job['status']}")


# Rendering and progress


@contextlib.contextmanager
def _bytes_progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A byte progress bar; yields the function that advances it."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
        console=err,
    ) as progress:  # fmt: skip
        task = progress.add_task(label, total=total)
        yield lambda sent: progress.advance(task, sent)


def _follow_job(client: EdgeClient, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  console=err) as progress:  # fmt: skip
        task = progress.add_task("Transcoding", total=100)
        for job in client.watch_job(job_id, timeout=24 * 3600):
            progress.update(task, completed=job.get("progress", 0), description=f"Transcoding ({job.get('status')})")
            if job.get("status") in FINAL_JOB_STATES:
                break
    return job


def _job_error(job: dict[str, Any]) -> str:
    return (job.get("error") or {}).get("message", "no reason given")


def _print_playback(client: EdgeClient, video_id: str, as_json: bool) -> None:
    playback = client.request("GET", f"/api/stream/{video_id}/playback")
    if as_json:
        emit(playback, as_json=True)
        return
    out.print(f"Watch: {client.base_url}/watch/{video_id}")
    out.print(f"HLS:   {playback['hlsUrl']}")
    out.print(f"DASH:  {playback['dashUrl']}")
    out.print(f"Qualities: {', '.join(q['name'] for q in playback.get('qualities', []))}")


def _render_videos(reply: dict[str, Any]) -> None:
    page = reply.get("pagination", {})
    rows = [
        (v["id"], v["title"], v["status"], v["visibility"], v.get("viewCount", 0), v.get("createTime", "")[:19])
        for v in reply.get("videos", [])
    ]
    title = f"Videos (page {page.get('page', 1)} of {max(page.get('totalPages', 1), 1)}, {page.get('total', 0)} in all)"
    table(title, ("id", "title", "status", "visibility", "views", "created"), rows)


def _render_video(video: dict[str, Any]) -> None:
    media = video.get("media", {})
    job = video.get("latestJob", {})
    rows = [
        ("id", video["id"]), ("title", video["title"]), ("status", video["status"]),
        ("visibility", video["visibility"]), ("views", video.get("viewCount", 0)),
        ("duration", f"{media.get('durationSeconds', 0):.1f} s"),
        ("resolution", f"{media.get('width', 0)}x{media.get('height', 0)}"),
        ("codecs", f"{media.get('videoCodec', '')} {media.get('audioCodec', '')}".strip()),
        ("job", f"{job.get('jobId', '-')} {job.get('state', '')} {job.get('progress', 0)}%"),
    ]  # fmt: skip
    table(video["title"], ("field", "value"), rows)


def _render_jobs(reply: dict[str, Any]) -> None:
    rows = [
        (j["id"], j.get("videoId", ""), j["status"], f"{j.get('progress', 0)}%", j.get("attempt", 0), _job_error(j)
         if j.get("error") else "")
        for j in reply.get("jobs", [])
    ]  # fmt: skip
    table("Jobs", ("id", "video", "status", "progress", "attempt", "error"), rows)


def _listed(text: str) -> list[str]:
    """A comma-separated option as its values."""
    return [value.strip() for value in text.split(",") if value.strip()]
