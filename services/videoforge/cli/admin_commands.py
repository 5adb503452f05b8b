"""Administration of every user's jobs, for admin accounts (sign in with `videoforge login` first)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from videoforge.cli.common import Json, Server, client_for
from videoforge.cli.output import emit, friendly_errors, out, table

admin_app = typer.Typer(help="Administration (admin accounts only).", no_args_is_help=True)


def _call(server: str | None, method: str, path: str, **kwargs: Any) -> Any:
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        return client.request(method, path, **kwargs)


@admin_app.command("stats")
def stats(server: Server = None, as_json: Json = False) -> None:
    """Jobs per state, average processing time, storage used, queue depth.

    Example: [bold]videoforge admin stats[/bold]
    """
    reply = _call(server, "GET", "/api/jobs/admin/stats")

    def render(data: dict[str, Any]) -> None:
        rows = [(state, count) for state, count in data.get("jobsByState", {}).items()]
        rows += [
            ("total jobs", data.get("totalJobs", 0)),
            ("average processing", f"{data.get('averageProcessingSeconds', 0):.1f} s"),
            ("storage", f"{int(data.get('storageBytes', 0)) / 1e6:.1f} MB"),
            ("queue depth", data.get("queueDepth", 0)),
        ]
        table("Platform statistics", ("figure", "value"), rows)

    emit(reply, as_json=as_json, render=render)


@admin_app.command("jobs")
def jobs(
    state: Annotated[str, typer.Option(help="Only jobs in this state, e.g. FAILED.")] = "",
    user: Annotated[str, typer.Option(help="Only this user's jobs (user id).")] = "",
    page: Annotated[int, typer.Option(min=1)] = 1,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Every user's jobs, newest first.

    Example: [bold]videoforge admin jobs --state FAILED[/bold]
    """
    terms = [f"state={state.upper()}"] if state else []
    terms += [f"user={user}"] if user else []
    params: dict[str, Any] = {"page": page, "limit": limit}
    if terms:
        params["filter"] = " AND ".join(terms)
    reply = _call(server, "GET", "/v1/admin/jobs", params=params)
    rows = [
        (j["id"], j.get("ownerId", ""), j.get("videoId", ""), j["status"], f"{j.get('progress', 0)}%")
        for j in reply.get("jobs", [])
    ]
    emit(
        reply, as_json=as_json, render=lambda _: table("All jobs", ("id", "owner", "video", "status", "progress"), rows)
    )


@admin_app.command("restart-failed")
def restart_failed(server: Server = None, as_json: Json = False) -> None:
    """Queue every failed job again.

    Example: [bold]videoforge admin restart-failed[/bold]
    """
    reply = _call(server, "POST", "/api/jobs/admin/restart-failed", json={})
    emit(reply, as_json=as_json, render=lambda r: out.print(f"Restarted {len(r.get('jobIds', []))} job(s)."))


@admin_app.command("cleanup")
def cleanup(
    days: Annotated[int, typer.Option(min=1, help="Delete finished jobs older than this many days.")],
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Delete old finished jobs and their files (never the output a video plays from).

    Example: [bold]videoforge admin cleanup --days 30[/bold]
    """
    reply = _call(server, "DELETE", "/api/jobs/admin/cleanup-old", params={"days": days})
    emit(
        reply,
        as_json=as_json,
        render=lambda r: out.print(
            f"Deleted {r.get('deletedJobs', 0)} job(s), freed {int(r.get('freedBytes', 0)) / 1e6:.1f} MB."
        ),
    )


@admin_app.command("reconcile")
def reconcile(
    apply: Annotated[bool, typer.Option("--apply", help="Delete what was found (without it, only list).")] = False,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Compare the object store with the databases: output folders nothing references, uploads never confirmed
    within a day, source objects nothing records, and multipart uploads left open for a day. Never touches what
    a video plays from or a video's source.

    Example: [bold]videoforge admin reconcile[/bold], then [bold]videoforge admin reconcile --apply[/bold]
    """
    body = {"apply": apply}
    outputs = _call(server, "POST", "/api/jobs/admin/reconcile", json=body)
    uploads = _call(server, "POST", "/api/gallery/admin/reconcile", json=body)
    found = {
        "orphanedOutputs": outputs.get("orphanedPrefixes", []),
        "neverConfirmedUploads": uploads.get("neverConfirmed", []),
        "orphanedSources": uploads.get("orphanedObjects", []),
        "openMultipartUploads": uploads.get("incompleteMultipart", []),
        "bytes": int(outputs.get("orphanedBytes", 0)) + int(uploads.get("freedBytes", 0)),
        "applied": apply,
    }
    emit(found, as_json=as_json, render=_render_reconcile)


def _render_reconcile(found: dict[str, Any]) -> None:
    kinds = ("orphanedOutputs", "neverConfirmedUploads", "orphanedSources", "openMultipartUploads")
    rows = [[kind, key] for kind in kinds for key in found[kind]]
    if rows:
        table("Unreferenced objects", ["what", "key"], rows)
    verb = "Deleted" if found["applied"] else "Found"
    out.print(f"{verb} {len(rows)} item(s), {found['bytes'] / 1e6:.1f} MB.")
    if rows and not found["applied"]:
        out.print("Run again with --apply to delete them.")
