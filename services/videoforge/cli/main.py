"""The `videoforge` command: run the platform, its services, and operator tasks."""

from __future__ import annotations

import asyncio
import importlib
from enum import Enum
from pathlib import Path

import typer

from videoforge.kit.settings import Settings

app = typer.Typer(
    help="VideoForge: upload videos, transcode them to HLS and DASH, and play them through signed URLs.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
users_app = typer.Typer(help="Manage accounts (operators).", no_args_is_help=True)
app.add_typer(users_app, name="users")


class ServiceName(str, Enum):
    identity = "identity"
    gallery = "gallery"
    job = "job"
    streaming = "streaming"
    transcoder = "transcoder"


@app.command()
def up(
    data_dir: Path = typer.Option(None, help="Where data, keys and logs live (default: your user data directory)."),
    port: int = typer.Option(8080, help="Port of the edge (HTTP JSON, gRPC-Web and gRPC)."),
    workers: int = typer.Option(1, min=1, help="Transcoder workers to run."),
) -> None:
    """Start the whole platform on this machine and wait; Ctrl-C stops everything.

    Example: [bold]videoforge up --port 8080[/bold], then open http://127.0.0.1:8080/
    """
    from videoforge.platform.supervisor import run_platform

    settings = Settings(**({"data_dir": data_dir} if data_dir else {}), edge_port=port)
    raise typer.Exit(run_platform(settings, data_dir=settings.data_dir, edge_port=port, workers=workers))


@app.command()
def serve(name: ServiceName) -> None:
    """Run one service in the foreground (what `up` starts for each); configured by environment variables.

    Example: [bold]DATABASE_URL=postgresql://... videoforge serve gallery[/bold]
    """
    from videoforge.kit.runtime import run_service

    settings = Settings()
    module = importlib.import_module(f"videoforge.{name.value}.bootstrap")
    address = getattr(settings, f"{name.value}_address")
    asyncio.run(run_service(settings, address, module.build))


@app.command()
def worker() -> None:
    """Run one transcoder worker: claims jobs from the queue and transcodes them.

    Example: [bold]videoforge worker[/bold]
    """
    from videoforge.transcoder.worker_main import run_worker

    asyncio.run(run_worker(Settings()))


@users_app.command("create")
def users_create(
    email: str = typer.Option(..., help="The account's email."),
    password: str = typer.Option(..., prompt=True, hide_input=True, help="At least 8 characters."),
    admin: bool = typer.Option(False, "--admin", help="Give the account the admin role."),
    data_dir: Path = typer.Option(None, help="The platform's data directory (default: your user data directory)."),
) -> None:
    """Create an account directly in the database (e.g. the first admin).

    Example: [bold]videoforge users create --email ops@example.com --admin[/bold]
    """
    from videoforge.cli.operator_tasks import create_user

    create_user(email, password, admin=admin, data_dir=data_dir)
