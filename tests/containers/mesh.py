"""The mesh as separate containers of the project's image on one podman network, as a cluster would run it.

Services, workers and the edge speak mutual TLS to each other, each container with its identity's certificate
mounted as Kubernetes mounts its Secret. PostgreSQL (pgserver's binaries) and SeaweedFS run in containers of the
same image; the SQS stand-in
(moto's server, a test dependency the image leaves out) runs on this machine, on the network's gateway
address, so the containers reach it and nothing else does. Services reach each other by container name.
The test reaches the edge and the object store through ports published on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil
from botocore.config import Config

from videoforge.kit.mesh_tls import EDGE, WORKER
from videoforge.platform.keys import ensure_local_secrets
from videoforge.platform.mesh_certificates import ensure_mesh_certificates
from videoforge.platform.ports import free_port
from videoforge.queue.sqs import ensure_queues

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "deploy" / "image" / "build"
CONTAINERS_CONF = ROOT / "deploy" / "image" / "containers.conf"
BASE_IMAGE = "localhost/videoforge-base:bookworm"
# Each container and network names the test process that started it, so a later run can remove what a killed one left.
OWNER_LABEL = "org.videoforge.test-run"
IMAGE_UID = 10001
BUILD_TIMEOUT_SECONDS = 900
READY_TIMEOUT_SECONDS = 120
SECRETS_DIR = "/etc/videoforge/secrets"
MESH_DIR = "/etc/videoforge/mesh"
SERVICE_PORTS = {"identity": 50061, "gallery": 50062, "job": 50063, "streaming": 50064, "transcoder": 50065}
S3_PORT = 8333
EDGE_PORT = 8080
BUCKET = "videoforge-media"
QUEUE_MAX_ATTEMPTS = 3
# As the e2e platform: uploads of a few MiB go up in parts, and a killed worker's job is rescued in seconds.
TEST_SETTINGS = {
    "MULTIPART_THRESHOLD_BYTES": str(6 * 1024 * 1024),
    "MULTIPART_PART_BYTES": str(5 * 1024 * 1024),
    "QUEUE_LEASE_SECONDS": "6",
}
# pgserver's PostgreSQL 16: a cluster with a password for network clients, the database, then the server.
# UTF8 spelled out: the image has no locale, and SQL_ASCII would make psycopg return bytes for text.
POSTGRES_SCRIPT = """
set -e
bin=$(python -c 'import pgserver._commands as c; print(c.POSTGRES_BIN_PATH)')
data=/var/lib/videoforge/postgres
printf '%s' "$POSTGRES_PASSWORD" > /tmp/password
"$bin/initdb" --pgdata="$data" --username=postgres --pwfile=/tmp/password --encoding=UTF8 --locale=C \
  --auth-local=trust --auth-host=scram-sha-256 >/dev/null
rm /tmp/password
echo 'host all all 0.0.0.0/0 scram-sha-256' >> "$data/pg_hba.conf"
echo 'CREATE DATABASE videoforge' | "$bin/postgres" --single -D "$data" postgres >/dev/null
exec "$bin/postgres" -D "$data" -c listen_addresses='*' -c unix_socket_directories=/tmp
"""


class ContainersUnavailable(Exception):
    """Containers can't run here; the message says why (the test skips with it)."""


def podman(
    *argv: str, timeout: float = 120, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {}), "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    return subprocess.run(
        ["podman", *argv], capture_output=True, text=True, timeout=timeout, check=check, env=environment
    )


def image_name() -> str:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return f"localhost/videoforge:{version}"


def check_containers_work() -> None:
    """Raise ContainersUnavailable unless podman can run the image's containers as this test runs them."""
    if shutil.which("podman") is None:
        raise ContainersUnavailable("podman is not installed (./setup installs podman, runc and mmdebstrap)")
    if os.geteuid() != 0:
        raise ContainersUnavailable("the container mesh needs rootful podman: run the tests as root")
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
    if info.returncode != 0:
        raise ContainersUnavailable(f"podman does not work here: {info.stderr.strip()[-500:]}")


def ensure_image() -> str:
    """The image built from these sources: `deploy/image/build --if-changed` rebuilds only when they changed."""
    image = image_name()
    if podman("image", "exists", BASE_IMAGE, check=False).returncode != 0 and shutil.which("mmdebstrap") is None:
        raise ContainersUnavailable("mmdebstrap is not installed, so the image's base can't be made")
    build = subprocess.run(
        [str(BUILD_SCRIPT), "--no-archive", "--if-changed"],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    if build.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}")
    return image


@dataclass
class ContainerMesh:
    """A running mesh: where the test reaches the edge and the store, and the containers by role."""

    image: str
    prefix: str
    edge_url: str
    s3_url: str
    network: str
    containers: dict[str, str] = field(default_factory=dict)  # role -> container name

    def workers(self) -> list[str]:
        return [name for role, name in self.containers.items() if role.startswith("worker-")]

    def processes(self, container: str) -> list[str]:
        """The command lines running in `container` (none once it stopped)."""
        listing = podman("top", container, "args", check=False)
        return listing.stdout.splitlines()[1:] if listing.returncode == 0 else []

    def is_running(self, container: str) -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", container, check=False)
        return state.stdout.strip() == "true"

    def logs(self, role: str, lines: int = 40) -> str:
        result = podman("logs", "--tail", str(lines), self.containers[role], check=False)
        return result.stdout + result.stderr

    def all_logs(self) -> str:
        return "\n".join(f"--- {role}\n{self.logs(role)}" for role in self.containers)


def _remove_leftovers() -> None:
    """Containers and networks a test run left when it was killed before its teardown: they hold CPU and ports."""
    owned = ("--filter", f"label={OWNER_LABEL}")
    containers = podman("ps", "--all", *owned, "--format", "{{.Names}}", check=False).stdout.split()
    described = _inspected(("inspect", *containers)) if containers else []
    if dead := _of_dead_runs((item["Name"], item["Config"].get("Labels") or {}) for item in described):
        podman("rm", "--force", *dead, check=False, timeout=120)
    networks = podman("network", "ls", *owned, "--format", "{{.Name}}", check=False).stdout.split()
    described = _inspected(("network", "inspect", *networks)) if networks else []
    if dead := _of_dead_runs((item["name"], item.get("labels") or {}) for item in described):
        podman("network", "rm", "--force", *dead, check=False, timeout=120)


def _inspected(argv: tuple[str, ...]) -> list[dict[str, Any]]:
    return list(json.loads(podman(*argv, check=False).stdout or "[]"))


def _of_dead_runs(owned: Iterable[tuple[str, dict[str, str]]]) -> list[str]:
    """The names whose owning test process is gone."""
    owners = ((name.lstrip("/"), labels.get(OWNER_LABEL, "")) for name, labels in owned)
    return [name for name, pid in owners if not (pid.isdigit() and psutil.pid_exists(int(pid)))]


class MeshBuilder:
    """Starts the mesh's parts in order and tears down whatever it started, whatever went wrong."""

    def __init__(self, image: str, work: Path) -> None:
        self._image = image
        self._work = work
        self._prefix = f"vf-{uuid.uuid4().hex[:8]}"
        self._network = self._prefix
        self._moto: subprocess.Popen[bytes] | None = None
        self._started: list[str] = []
        self.mesh = ContainerMesh(
            image=image,
            prefix=self._prefix,
            edge_url=f"http://127.0.0.1:{free_port()}",
            s3_url=f"http://127.0.0.1:{free_port()}",
            network=self._network,
        )

    def start(self) -> ContainerMesh:
        _remove_leftovers()
        podman("network", "create", self._network, "--label", f"{OWNER_LABEL}={os.getpid()}")
        gateway = self._gateway()
        secret_files = self._secrets()
        mesh = self._mesh_certificates()
        s3_key, s3_secret = secrets.token_hex(10).upper(), secrets.token_urlsafe(30)
        pg_password = secrets.token_urlsafe(18)
        self._start_postgres(pg_password)
        self._start_s3(secret_files, s3_key, s3_secret)
        queue_url, dead_letter_url, sqs_endpoint = self._start_sqs(gateway)
        common = {
            **TEST_SETTINGS,
            **{f"{name.upper()}_ADDRESS": f"{name}:{port}" for name, port in SERVICE_PORTS.items()},
            "DATABASE_URL": f"postgresql://postgres:{pg_password}@postgres:5432/videoforge",
            "S3_ENDPOINT_URL": f"http://s3:{S3_PORT}",
            "S3_PUBLIC_ENDPOINT_URL": self.mesh.s3_url,
            "S3_BUCKET": BUCKET,
            "S3_ACCESS_KEY_ID": s3_key,
            "S3_SECRET_ACCESS_KEY": s3_secret,
            "QUEUE_BACKEND": "sqs",
            "QUEUE_MAX_ATTEMPTS": str(QUEUE_MAX_ATTEMPTS),
            "SQS_ENDPOINT_URL": sqs_endpoint,
            "SQS_QUEUE_URL": queue_url,
            "SQS_DEAD_LETTER_QUEUE_URL": dead_letter_url,
            # moto accepts any credentials; boto3 wants some before it signs.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "JWT_PRIVATE_KEY_FILE": f"{SECRETS_DIR}/jwt-signing-key.pem",
            "CDN_PRIVATE_KEY_FILE": f"{SECRETS_DIR}/cdn-signing-key.pem",
            "PUBLIC_URL": self.mesh.edge_url,
            "MESH_CA_FILE": f"{MESH_DIR}/ca.crt",
            "MESH_CERT_FILE": f"{MESH_DIR}/tls.crt",
            "MESH_KEY_FILE": f"{MESH_DIR}/tls.key",
        }
        keys = f"{secret_files}:{SECRETS_DIR}:ro"

        def certificate(identity: str) -> str:
            return f"{mesh / identity}:{MESH_DIR}:ro"

        for name, port in SERVICE_PORTS.items():
            # Each service listens on all of its container's addresses at the port the others dial.
            own = {f"{name.upper()}_ADDRESS": f"0.0.0.0:{port}"}
            self._run(name, ["videoforge", "serve", name], {**common, **own}, volumes=[keys, certificate(name)])
        for index in (1, 2):
            self._run(f"worker-{index}", ["videoforge", "worker"], common, volumes=[keys, certificate(WORKER)])
        edge_port = self.mesh.edge_url.rpartition(":")[2]
        self._run(
            "edge",
            ["videoforge-edge"],
            {**common, "EDGE_HOST": "0.0.0.0", "EDGE_PORT": str(EDGE_PORT)},
            volumes=[keys, certificate(EDGE)],
            publish=f"127.0.0.1:{edge_port}:{EDGE_PORT}",
        )
        self._wait_for_edge()
        return self.mesh

    def stop(self) -> None:
        if self._started:
            podman("rm", "--force", "--time", "5", *self._started, check=False, timeout=120)
        podman("network", "rm", "--force", self._network, check=False)
        if self._moto is not None:
            self._moto.terminate()
            try:
                self._moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._moto.kill()
                self._moto.wait()

    # The parts.

    def _run(
        self,
        role: str,
        command: list[str],
        environment: dict[str, str],
        *,
        volumes: Sequence[str] = (),
        publish: str = "",
    ) -> None:
        name = f"{self._prefix}-{role}"
        argv = ["run", "--detach", "--init", "--name", name, "--network", self._network, "--network-alias", role]
        argv += ["--label", f"{OWNER_LABEL}={os.getpid()}"]
        for key in environment:
            argv += ["--env", key]  # values from our environment: secrets stay out of the command line
        for volume in volumes:
            argv += ["--volume", volume]
        if publish:
            argv += ["--publish", publish]
        self._started.append(name)
        self.mesh.containers[role] = name
        podman(*argv, self._image, *command, env=environment)

    def _gateway(self) -> str:
        (network,) = json.loads(podman("network", "inspect", self._network).stdout)
        return str(network["subnets"][0]["gateway"])

    def _secrets(self) -> Path:
        """Fresh signing keys, readable by the image's user and no one else."""
        secret_dir = ensure_local_secrets(self._work).jwt_private_key_file.parent
        for path in [secret_dir, *secret_dir.iterdir()]:
            os.chown(path, IMAGE_UID, IMAGE_UID)
        return secret_dir

    def _mesh_certificates(self) -> Path:
        """The mesh's CA and a certificate per identity, each identity's folder readable by the image's user."""
        directory = self._work / "mesh"
        ensure_mesh_certificates(directory)
        for path in [directory, *directory.rglob("*")]:
            os.chown(path, IMAGE_UID, IMAGE_UID)
        return directory

    def _start_postgres(self, password: str) -> None:
        self._run("postgres", ["sh", "-c", POSTGRES_SCRIPT], {"POSTGRES_PASSWORD": password})
        container = self.mesh.containers["postgres"]
        # Asked from inside its container over TCP with the password, the way the services will connect.
        probe = f"import psycopg; psycopg.connect('postgresql://postgres:{password}@127.0.0.1:5432/videoforge').close()"

        def accepts_connections() -> bool:
            return podman("exec", container, "python", "-c", probe, check=False).returncode == 0

        self._wait("PostgreSQL", "postgres", accepts_connections)

    def _start_s3(self, secret_dir: Path, access_key: str, secret_key: str) -> None:
        config = secret_dir / "s3.json"
        identity = {
            "name": "videoforge",
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        os.chown(config, IMAGE_UID, IMAGE_UID)
        config.chmod(0o600)
        command = [
            "weed",
            "-logtostderr",
            "mini",
            "-dir=/var/lib/videoforge",
            # Its servers find each other on loopback; only the S3 gateway is for others.
            "-ip=127.0.0.1",
            "-ip.bind=0.0.0.0",
            f"-s3.port={S3_PORT}",
            f"-s3.config={SECRETS_DIR}/s3.json",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
        ]
        self._run(
            "s3",
            command,
            {},
            volumes=[f"{secret_dir}:{SECRETS_DIR}:ro"],
            publish=f"127.0.0.1:{self.mesh.s3_url.rpartition(':')[2]}:{S3_PORT}",
        )
        client = boto3.client(
            "s3",
            endpoint_url=self.mesh.s3_url,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

        def bucket_takes_objects() -> bool:
            # Until the volume server has registered, the gateway answers but can't store anything.
            with contextlib.suppress(Exception):
                client.create_bucket(Bucket=BUCKET)
            try:
                client.put_object(Bucket=BUCKET, Key="ready-check", Body=b"ok")
                client.delete_object(Bucket=BUCKET, Key="ready-check")
            except Exception:
                return False
            return True

        self._wait("SeaweedFS", "s3", bucket_takes_objects)

    def _start_sqs(self, gateway: str) -> tuple[str, str, str]:
        """moto's server on the network's gateway address; returns the queue, its dead letters and the endpoint."""
        port = free_port(gateway)
        log = (self._work / "moto.log").open("wb")
        self._moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", gateway, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        endpoint = f"http://{gateway}:{port}"
        client = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        def queues() -> tuple[str, str] | None:
            with contextlib.suppress(Exception):
                return ensure_queues(client, f"{self._prefix}-jobs", max_attempts=QUEUE_MAX_ATTEMPTS)
            return None

        deadline = time.monotonic() + 30
        while (urls := queues()) is None:
            if self._moto.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start:\n{(self._work / 'moto.log').read_text()[-2000:]}")
            time.sleep(0.2)
        return *urls, endpoint

    def _wait_for_edge(self) -> None:
        def healthy() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.mesh.edge_url}/healthz", timeout=2).status_code == 200
            return False

        self._wait("the edge and every service behind it", None, healthy)

    def _wait(self, what: str, role: str | None, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not ready():
            stopped = [r for r, name in self.mesh.containers.items() if not self.mesh.is_running(name)]
            if stopped or time.monotonic() > deadline:
                because = f"{', '.join(stopped)} stopped" if stopped else f"not within {READY_TIMEOUT_SECONDS} s"
                logs = self.mesh.logs(role) if role else self.mesh.all_logs()
                raise RuntimeError(f"{what} did not become ready ({because}):\n{logs}")
            time.sleep(0.5)


@contextlib.contextmanager
def running_mesh(image: str, work: Path) -> Iterator[ContainerMesh]:
    builder = MeshBuilder(image, work)
    try:
        yield builder.start()
    finally:
        builder.stop()
