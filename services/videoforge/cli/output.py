"""How the CLI shows results: tables for people, JSON with --json, errors with a next step."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from videoforge.client.edge import ApiError

out = Console()
err = Console(stderr=True)

NEXT_STEPS = {
    401: "Sign in with `videoforge login`.",
    403: "This needs other permissions (an admin account, or the owner's).",
    404: "Check the id: `videoforge videos list` or `videoforge jobs list` show yours.",
    409: "It already exists.",
    429: "Too many requests; wait a moment and try again.",
}


@contextmanager
def friendly_errors(server: str) -> Iterator[None]:
    """Server errors print their reason and a next step and exit 1; never a traceback."""
    try:
        yield
    except ApiError as error:
        err.print(f"[red]Error:[/red] {error.message}")
        if hint := NEXT_STEPS.get(error.status):
            err.print(hint)
        raise typer.Exit(1) from error
    except httpx.TransportError as error:
        err.print(f"[red]Error:[/red] cannot reach {server} ({type(error).__name__}).")
        err.print("Is the platform running? Start it with `videoforge up`, or pass --server URL.")
        raise typer.Exit(1) from error


def emit(data: Any, *, as_json: bool, render: Any = None) -> None:
    if as_json or render is None:
        out.print_json(json.dumps(data))
    else:
        render(data)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=title)
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    out.print(grid)
