"""Options every user-facing command shares, and the client they build."""

from __future__ import annotations

from typing import Annotated

import typer

from videoforge.cli.session import SavedSession
from videoforge.client.edge import EdgeClient

Server = Annotated[
    str | None,
    typer.Option("--server", envvar="VIDEOFORGE_SERVER", help="Edge URL (default: the one you logged in to)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]


def client_for(server: str | None) -> EdgeClient:
    saved = SavedSession.load()
    url = (server or saved.server).rstrip("/")
    # The saved token belongs to the server it was issued by.
    token = saved.access_token if url == saved.server.rstrip("/") else ""
    return EdgeClient(url, token)
