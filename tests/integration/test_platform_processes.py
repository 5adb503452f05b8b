"""The one-machine platform's processes, for real: PostgreSQL, SeaweedFS and the supervisor of `videoforge up`.

The supervisor runs here with stand-in children (sleepers, and a tiny HTTP server answering the edge's
/healthz) in a separate interpreter, so signals reach it exactly as they reach `videoforge up`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import psutil
import psycopg
import pytest
from botocore.client import BaseClient
from botocore.config import Config

from videoforge.kit.settings import Settings
from videoforge.platform.embedded_postgres import start_embedded_postgres
from videoforge.platform.embedded_s3 import start_embedded_s3
from videoforge.platform.keys import S3Credentials, ensure_local_secrets
from videoforge.platform.ports import free_port, port_is_free
from videoforge.platform.processes import wait_until_gone

# A child that leaves a grandchild behind, as a worker running FFmpeg would.
SLEEPER_WITH_GRANDCHILD = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "time.sleep(600)\n"
)
# What children are told: the settings as they parse them from the environment.
SETTINGS_PROBE = (
    "import json, os, sys, time\n"
    "from videoforge.kit.settings import Settings\n"
    "settings = Settings()\n"
    "with open(sys.argv[1] + '.partial', 'w') as out:\n"
    "    json.dump(settings.model_dump(mode='json'), out)\n"
    "os.replace(sys.argv[1] + '.partial', sys.argv[1])\n"
    "time.sleep(600)\n"
)
HEALTH_SERVER = (
    "import http.server, sys\n"
    "class Health(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200 if self.path == '/healthz' else 404)\n"
    "        self.end_headers()\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Health).serve_forever()\n"
)
CRASHING = "import sys; print('cannot open the queue: connection refused', flush=True); sys.exit(3)"
SUPERVISOR = (
    "import json, logging, sys\n"
    "from pathlib import Path\n"
    "from videoforge.kit.settings import Settings\n"
    "from videoforge.platform.supervisor import ChildSpec, run_platform\n"
    "logging.basicConfig(level=logging.INFO)\n"
    "specs = [ChildSpec(name, tuple(argv)) for name, argv in json.loads(sys.argv[3])]\n"
    "sys.exit(run_platform(Settings(), data_dir=Path(sys.argv[1]), edge_port=int(sys.argv[2]),\n"
    "                      children=lambda settings: specs, startup_timeout=30))\n"
)
# Trivial children have no use for the embedded servers: these make the supervisor skip them.
EXTERNAL_SERVERS = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "S3_ENDPOINT_URL": "http://127.0.0.1:1"}


def running(processes: list[psutil.Process]) -> list[psutil.Process]:
    return wait_until_gone(processes, 0)


def processes_of(data_dir: Path) -> list[psutil.Process]:
    """Live processes that belong to a platform: named in their command line or told in their environment."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid() or process.status() == psutil.STATUS_ZOMBIE:
                continue
            named = str(data_dir) in " ".join(process.cmdline())
            if named or process.environ().get("VIDEOFORGE_DATA_DIR") == str(data_dir):
                found.append(process)
        except psutil.Error:
            continue
    return found


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Supervisor:
    process: subprocess.Popen[bytes]
    data_dir: Path
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def wait_until_up(self, timeout: float = 60) -> None:
        wait_for(
            lambda: "VideoForge is up" in self.stdout.read_text() or self.process.poll() is not None,
            timeout,
            "the platform to come up",
        )
        assert self.process.poll() is None, self.output()

    def child_pids(self) -> dict[str, int]:
        """The supervisor's record of its children."""
        entries = json.loads((self.data_dir / "run" / "children.json").read_text())
        return {entry["name"]: entry["pid"] for entry in entries}

    def family(self) -> list[psutil.Process]:
        """The supervisor and everything it started, down to grandchildren and PostgreSQL's workers."""
        members = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        postmaster_pid = self.data_dir / "postgres" / "postmaster.pid"
        if postmaster_pid.exists():
            postmaster = psutil.Process(int(postmaster_pid.read_text().split()[0]))
            members += [postmaster, *postmaster.children(recursive=True)]
        return members


@pytest.fixture
def start_supervisor(tmp_path: Path) -> Iterator[Callable[..., Supervisor]]:
    started: list[Supervisor] = []

    def start(
        children: list[tuple[str, list[str]]], *, data_dir: Path, edge_port: int, env: dict[str, str] | None = None
    ) -> Supervisor:
        index = len(started)
        stdout, stderr = tmp_path / f"supervisor-{index}.out", tmp_path / f"supervisor-{index}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-c", SUPERVISOR, str(data_dir), str(edge_port), json.dumps(children)],
                stdout=out,
                stderr=err,
                env={**os.environ, **(env or {})},
            )
        supervisor = Supervisor(process, data_dir, stdout, stderr)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:  # a failed test must not leave a platform running
        if supervisor.process.poll() is None:
            supervisor.process.send_signal(signal.SIGTERM)
        supervisor.process.wait(60)


def trivial_children(edge_port: int, probe_file: Path | None = None) -> list[tuple[str, list[str]]]:
    children = [("sleeper", [sys.executable, "-c", SLEEPER_WITH_GRANDCHILD])]
    if probe_file is not None:
        children.append(("probe", [sys.executable, "-c", SETTINGS_PROBE, str(probe_file)]))
    children.append(("edge", [sys.executable, "-c", HEALTH_SERVER, str(edge_port)]))
    return children


def test_local_secrets_are_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = ensure_local_secrets(tmp_path)
    second = ensure_local_secrets(tmp_path)

    assert first == second
    assert first.jwt_private_key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert first.cdn_private_key_file.read_bytes() != first.jwt_private_key_file.read_bytes()
    assert first.s3.secret_access_key not in repr(first)
    for path in (tmp_path / "secrets").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700


def test_embedded_postgres_answers_queries_keeps_data_and_stops_without_a_trace(tmp_path: Path) -> None:
    postgres = start_embedded_postgres(tmp_path)
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
        connection.execute("CREATE TABLE kept (value text)")
        connection.execute("INSERT INTO kept VALUES ('still here')")
    postmaster = postgres.postmaster()
    assert postmaster is not None
    server_processes = [postmaster, *postmaster.children(recursive=True)]

    postgres.stop()

    assert running(server_processes) == []
    assert processes_of(tmp_path) == []
    again = start_embedded_postgres(tmp_path)
    try:
        with psycopg.connect(again.url) as connection:
            assert connection.execute("SELECT value FROM kept").fetchone() == ("still here",)
    finally:
        again.stop()
    assert processes_of(tmp_path) == []


def test_embedded_seaweedfs_serves_s3_keeps_data_and_stops_without_a_trace(tmp_path: Path) -> None:
    credentials = S3Credentials("VFTESTPLATFORM", "a-secret-of-forty-characters-or-so-123456")

    def client(endpoint_url: str) -> BaseClient:
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    s3 = start_embedded_s3(tmp_path / "seaweedfs", credentials, bucket="videoforge-media")
    client(s3.endpoint_url).put_object(Bucket="videoforge-media", Key="a/b.txt", Body=b"kept")
    weed = psutil.Process(s3.process.pid)

    s3.stop()

    assert running([weed]) == []
    assert processes_of(tmp_path) == []
    again = start_embedded_s3(tmp_path / "seaweedfs", credentials, bucket="videoforge-media")
    try:
        stored = client(again.endpoint_url).get_object(Bucket="videoforge-media", Key="a/b.txt")
        assert stored["Body"].read() == b"kept"
        assert again.endpoint_url == s3.endpoint_url
    finally:
        again.stop()
    assert processes_of(tmp_path) == []


def test_supervisor_starts_everything_and_sigterm_stops_it_all_with_exit_zero(
    tmp_path: Path, start_supervisor: Callable[..., Supervisor]
) -> None:
    data_dir, edge_port, probe = tmp_path / "data", free_port(), tmp_path / "settings.json"
    supervisor = start_supervisor(trivial_children(edge_port, probe), data_dir=data_dir, edge_port=edge_port)
    supervisor.wait_until_up()
    wait_for(probe.exists, 30, "the settings probe")
    family = supervisor.family()
    names = {" ".join(process.cmdline()) for process in family}
    assert any("postgres -D" in name for name in names) and any("weed" in name for name in names)
    told = json.loads(probe.read_text())

    supervisor.process.send_signal(signal.SIGTERM)

    assert supervisor.process.wait(60) == 0, supervisor.output()
    assert running(family) == []
    assert processes_of(data_dir) == []
    assert told["data_dir"] == str(data_dir)
    assert told["edge_port"] == edge_port
    assert told["database_url"].startswith("postgresql://") and "/videoforge?" in told["database_url"]
    assert told["s3_endpoint_url"].startswith("http://127.0.0.1:")
    assert told["s3_secret_access_key"] and told["s3_secret_access_key"] not in supervisor.output()
    assert Path(told["jwt_private_key_file"]).is_file() and Path(told["cdn_private_key_file"]).is_file()


def test_services_at_default_addresses_move_to_free_ports_when_those_are_taken(
    tmp_path: Path, start_supervisor: Callable[..., Supervisor]
) -> None:
    data_dir, edge_port, probe = tmp_path / "data", free_port(), tmp_path / "settings.json"
    default = Settings.model_fields["identity_address"].default
    host, _, port = default.rpartition(":")
    with contextlib.ExitStack() as stack:
        if port_is_free(host, int(port)):  # otherwise something else already holds it, as another platform would
            holder = stack.enter_context(socket.socket())
            holder.bind((host, int(port)))
            holder.listen()
        supervisor = start_supervisor(
            trivial_children(edge_port, probe), data_dir=data_dir, edge_port=edge_port, env=EXTERNAL_SERVERS
        )
        supervisor.wait_until_up()
        wait_for(probe.exists, 30, "the settings probe")

    moved = json.loads(probe.read_text())["identity_address"]
    assert moved != default and moved.startswith(f"{host}:")
    assert f"the identity service listens on {moved} instead" in supervisor.output()
    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(60) == 0


def test_supervisor_restarts_a_child_that_dies_and_reaps_what_it_left_behind(
    tmp_path: Path, start_supervisor: Callable[..., Supervisor]
) -> None:
    data_dir, edge_port = tmp_path / "data", free_port()
    supervisor = start_supervisor(
        trivial_children(edge_port), data_dir=data_dir, edge_port=edge_port, env=EXTERNAL_SERVERS
    )
    supervisor.wait_until_up()
    sleeper = psutil.Process(supervisor.child_pids()["sleeper"])
    wait_for(sleeper.children, 10, "the sleeper's grandchild")
    orphan = sleeper.children()[0]

    sleeper.kill()

    wait_for(lambda: supervisor.child_pids()["sleeper"] != sleeper.pid, 15, "the sleeper's restart")
    assert running([psutil.Process(supervisor.child_pids()["sleeper"])]) != []
    assert running([orphan]) == []
    assert "sleeper exited with code -9" in supervisor.output()
    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(60) == 0


def test_a_child_killed_again_and_again_comes_back_without_a_growing_backoff(
    tmp_path: Path, start_supervisor: Callable[..., Supervisor]
) -> None:
    data_dir, edge_port = tmp_path / "data", free_port()
    supervisor = start_supervisor(
        trivial_children(edge_port), data_dir=data_dir, edge_port=edge_port, env=EXTERNAL_SERVERS
    )
    supervisor.wait_until_up()
    for _ in range(4):
        pid = supervisor.child_pids()["sleeper"]
        killed_at = time.monotonic()
        psutil.Process(pid).kill()
        wait_for(lambda pid=pid: supervisor.child_pids()["sleeper"] != pid, 10, "the sleeper's restart")
        assert time.monotonic() - killed_at < 4, "a killed child is not crash-looping: no growing backoff"
    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(60) == 0


def test_a_second_supervisor_on_the_same_data_dir_is_refused_while_the_first_runs(
    tmp_path: Path, start_supervisor: Callable[..., Supervisor]
) -> None:
    data_dir, edge_port = tmp_path / "data", free_port()
    first = start_supervisor(trivial_children(edge_port), data_dir=data_dir, edge_port=edge_port, env=EXTERNAL_SERVERS)
    first.wait_until_up()

    second = start_supervisor(
        trivial_children(free_port()), data_dir=data_dir, edge_port=free_port(), env=EXTERNAL_SERVERS
    )

    assert second.process.wait(30) == 1
    assert f"another `videoforge up` (pid {first.process.pid}) is running on {data_dir}" in second.output()
    assert first.process.poll() is None
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(60) == 0


def test_supervisor_names_the_child_that_died_while_starting_and_leaves_nothing(
    tmp_path: Path, start_supervisor: Callable[..., Supervisor]
) -> None:
    data_dir, edge_port = tmp_path / "data", free_port()
    children = [("sleeper", [sys.executable, "-c", SLEEPER_WITH_GRANDCHILD]), ("job", [sys.executable, "-c", CRASHING])]

    supervisor = start_supervisor(children, data_dir=data_dir, edge_port=edge_port, env=EXTERNAL_SERVERS)

    assert supervisor.process.wait(60) == 1
    assert "job exited with code 3 while the platform was starting" in supervisor.output()
    assert "cannot open the queue: connection refused" in supervisor.output()
    assert processes_of(data_dir) == []


def test_a_run_after_a_crash_stops_what_the_crashed_run_left_and_reuses_the_data(
    tmp_path: Path, start_supervisor: Callable[..., Supervisor]
) -> None:
    data_dir, edge_port = tmp_path / "data", free_port()
    crashed = start_supervisor(trivial_children(edge_port), data_dir=data_dir, edge_port=edge_port)
    crashed.wait_until_up()
    left_behind = [psutil.Process(pid) for pid in crashed.child_pids().values()]
    secrets = (data_dir / "secrets" / "s3-credentials.json").read_text()

    crashed.process.kill()
    crashed.process.wait()
    second = start_supervisor(trivial_children(edge_port), data_dir=data_dir, edge_port=edge_port)
    second.wait_until_up()

    assert running(left_behind) == []
    assert (data_dir / "secrets" / "s3-credentials.json").read_text() == secrets
    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(60) == 0
    assert processes_of(data_dir) == []
