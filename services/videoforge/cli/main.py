"""The `videoforge` command: run the platform, its services, and operator tasks."""

from __future__ import annotations

import asyncio
import importlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from videoforge.cli import user_commands
from videoforge.cli.admin_commands import admin_app
from videoforge.cli.caption_commands import captions_app
from videoforge.kit.errors import DomainError
from videoforge.kit.settings import Settings

app = typer.Typer(
    help="VideoForge: upload videos, transcode them to HLS and DASH, and play them through signed URLs.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Manage accounts on this machine's database (operators).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.command()(user_commands.login)
app.command()(user_commands.upload)
app.command()(user_commands.play)
app.add_typer(user_commands.videos_app, name="videos")
user_commands.videos_app.add_typer(captions_app, name="captions")
app.add_typer(user_commands.jobs_app, name="jobs")
app.add_typer(admin_app, name="admin")
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option(help="Where data, keys and logs live (default: your user data directory).")
]


class ServiceName(StrEnum):
    identity = "identity"
    gallery = "gallery"
    job = "job"
    streaming = "streaming"
    transcoder = "transcoder"


def _settings(data_dir: Path | None, **overrides: object) -> Settings:
    return Settings(**({"data_dir": data_dir} if data_dir else {}), **overrides)


@app.command()
def up(
    data_dir: DataDir = None,
    port: Annotated[int, typer.Option(help="Port of the edge (HTTP JSON, gRPC-Web and gRPC).")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Transcoder workers to run.")] = 1,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="PEM certificate chain: the edge then serves HTTPS (and HTTP/2)."
        ),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="PEM private key of --tls-cert.")
    ] = None,
    http_port: Annotated[
        int, typer.Option(min=0, help="With TLS: a plain-HTTP port that redirects every request to HTTPS.")
    ] = 0,
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0, help="First of the loopback ports for the edge's stats and each process's Prometheus metrics."
        ),
    ] = 9460,
    traces_file: Annotated[
        bool, typer.Option("--traces-file", help="Write every process's trace spans to DATA_DIR/traces.jsonl.")
    ] = False,
) -> None:
    """Start the whole platform on this machine and wait; Ctrl-C stops everything.

    Example: [bold]videoforge up --port 8080[/bold], then open http://127.0.0.1:8080/

    With TLS: [bold]videoforge up --port 8443 --tls-cert edge.pem --tls-key edge.key --http-port 8080[/bold]

    Traces go over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; --traces-file also writes them as JSON lines.
    """
    from videoforge.platform.supervisor import run_platform

    if (tls_cert is None) != (tls_key is None) or (http_port and tls_cert is None):
        raise typer.BadParameter("give --tls-cert and --tls-key together (--http-port needs them too)")
    tls = {"edge_tls_cert_file": tls_cert, "edge_tls_key_file": tls_key} if tls_cert else {}
    settings = _settings(data_dir, edge_port=port, edge_http_redirect_port=http_port, **tls)
    if traces_file:
        traces = settings.data_dir.expanduser().resolve() / "traces.jsonl"
        settings = settings.model_copy(update={"traces_file": traces})
    raise typer.Exit(
        run_platform(settings, data_dir=settings.data_dir, edge_port=port, workers=workers, metrics_port=metrics_port)
    )


@app.command()
def serve(name: Annotated[ServiceName, typer.Argument(help="The service to run.")]) -> None:
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
    email: Annotated[str, typer.Option(help="The account's email.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="At least 8 characters.")],
    admin: Annotated[bool, typer.Option("--admin", help="Give the account the admin role.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an account directly in the database (e.g. the first admin).

    Example: [bold]videoforge users create --email ops@example.com --admin[/bold]
    """
    from videoforge.cli.operator_tasks import create_user

    try:
        user = create_user(email, password, admin=admin, data_dir=data_dir)
    except DomainError as error:
        err.print(f"[red]Could not create the account:[/red] {error.message}")
        raise typer.Exit(1) from error
    typer.echo(f"Created {user.role} {user.email} (id {user.id}).")
