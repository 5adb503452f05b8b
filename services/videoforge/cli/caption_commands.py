"""`videoforge videos captions`: add a WebVTT or SubRip file to a video, list its captions, delete one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from videoforge.cli.common import Json, Server, client_for
from videoforge.cli.output import emit, err, friendly_errors, out, table

captions_app = typer.Typer(help="A video's captions: add, list, delete.", no_args_is_help=True)
VideoId = Annotated[str, typer.Argument(help="The video's id (see `videoforge videos list`).")]
FORMATS_BY_SUFFIX = {".vtt": "vtt", ".srt": "srt"}


@captions_app.command("add")
def captions_add(
    video_id: VideoId,
    file: Annotated[Path, typer.Argument(help="A WebVTT (.vtt) or SubRip (.srt) file, in UTF-8.", exists=True)],
    language: Annotated[str, typer.Option("--language", "-l", help="BCP 47 tag: en, fr-CA, pt-BR...")],
    label: Annotated[str, typer.Option(help="What the player's menu shows (default: the language).")] = "",
    format_: Annotated[str, typer.Option("--format", help="vtt or srt (default: from the file's extension).")] = "",
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Add a caption to one of your videos; it shows in the player at once, nothing is transcoded again.

    Example: [bold]videoforge videos captions add 3f2a... subs.en.srt --language en --label English[/bold]
    """
    format_ = format_ or FORMATS_BY_SUFFIX.get(file.suffix.lower(), "")
    if not format_:
        err.print(f"Cannot tell the format of {file.name}: pass --format vtt or --format srt.")
        raise typer.Exit(2)
    try:
        content = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        err.print(f"[red]Error:[/red] {file.name} is not UTF-8 (byte {error.start}); save it as UTF-8 first.")
        raise typer.Exit(2) from error
    body = {"language": language, "label": label, "format": format_, "content": content}
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        caption = client.request("POST", f"/v1/videos/{video_id}/captions", json=body)
    emit(
        caption,
        as_json=as_json,
        render=lambda c: out.print(f"Added caption {c['id']} ({c['language']}, {c['label']})."),
    )


@captions_app.command("list")
def captions_list(video_id: VideoId, server: Server = None, as_json: Json = False) -> None:
    """List a video's captions.

    Example: [bold]videoforge videos captions list 3f2a...[/bold]
    """
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        reply = client.request("GET", f"/v1/videos/{video_id}/captions")
    emit(reply, as_json=as_json, render=_render_captions)


@captions_app.command("delete")
def captions_delete(
    video_id: VideoId,
    caption_id: Annotated[str, typer.Argument(help="The caption's id (see `videoforge videos captions list`).")],
    server: Server = None,
) -> None:
    """Delete one of a video's captions; players stop offering it at once.

    Example: [bold]videoforge videos captions delete 3f2a... 9b1c...[/bold]
    """
    client = client_for(server)
    with friendly_errors(client.base_url), client:
        client.request("DELETE", f"/v1/videos/{video_id}/captions/{caption_id}")
    out.print(f"Deleted caption {caption_id}.")


def _render_captions(reply: dict[str, Any]) -> None:
    rows = [
        (c["id"], c["language"], c["label"], c.get("origin", ""), c.get("cueCount", 0), c.get("createTime", "")[:19])
        for c in reply.get("captions", [])
    ]
    table("Captions", ("id", "language", "label", "origin", "cues", "added"), rows)
