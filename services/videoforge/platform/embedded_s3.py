"""SeaweedFS's S3 gateway on loopback: the object store of a one-machine platform.

`weed mini` runs master, volume, filer and S3 gateway in one process. Every port it opens is chosen
here, so two platforms on one machine never collide, and kept in the directory, so a later run finds
its data under the same master directory (SeaweedFS names it after the master port).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Collection
from pathlib import Path

import boto3
import httpx
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from videoforge.platform.keys import S3Credentials
from videoforge.platform.ports import port_is_free
from videoforge.platform.processes import ChildProcess, installed_binary

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 15.0
# weed puts each server's gRPC port at its HTTP port + 10000 (its admin worker assumes that offset even
# when told otherwise): both ports must be free, and below 65535.
GRPC_PORT_OFFSET = 10000
# HTTP ports from here, gRPC ports 10000 above: all below the ports Linux hands outgoing connections (32768 up by
# default), which the platform's own clients draw on constantly and could take between our check and weed's bind,
# and below those `ports.free_port` hands out.
_PORT_RANGE = (10000, 20000)
_SERVERS = ("s3", "master", "volume", "filer", "admin")
# The S3 identity may do everything; it is the only one and lives only on loopback.
_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]
_WEED_SOCKETS = Path("/tmp")  # where weed puts its unix sockets, whatever TMPDIR says


class EmbeddedServerError(Exception):
    """An embedded server did not start."""


class EmbeddedS3:
    def __init__(
        self, *, endpoint_url: str, credentials: S3Credentials, process: ChildProcess, ports: dict[str, int]
    ) -> None:
        self.endpoint_url = endpoint_url
        self.credentials = credentials
        self.process = process
        self._ports = ports

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self.process.stop(grace)
        # weed leaves unix sockets named after its ports in /tmp (the S3 one always, gRPC ones when
        # stopped soon after starting). The ports were ours until it exited, so these sockets are too.
        for port in self._ports.values():
            for leftover in (
                *_WEED_SOCKETS.glob(f"seaweedfs-*-{port}.sock"),
                *_WEED_SOCKETS.glob(f"seaweedfs-*-{port + GRPC_PORT_OFFSET}.sock"),
            ):
                leftover.unlink(missing_ok=True)


def start_embedded_s3(
    directory: Path,
    credentials: S3Credentials,
    *,
    bucket: str | None = None,
    region: str = "us-east-1",
    log_path: Path | None = None,
    timeout: float = READY_TIMEOUT_SECONDS,
    avoid: Collection[int] = (),
) -> EmbeddedS3:
    """Start `weed mini` on ``directory`` and return once S3 answers (and ``bucket`` exists, if named); none of its
    ports is in `avoid`."""
    directory = directory.resolve()
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    _write_identities(config, credentials)
    ports = _ports(directory / "ports.json", avoid)
    argv = [
        installed_binary("weed"),
        "-logtostderr",  # into our log file; glog's default is files of its own under /tmp
        "mini",
        f"-dir={data}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-s3.config={config}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        # Nothing else depends on this server: stop without the default pause for its peers.
        "-volume.preStopSeconds=0",
    ]
    for server in _SERVERS:
        argv.append(f"-{server}.port={ports[server]}")
    process = ChildProcess("seaweedfs", argv, log_path=log_path or directory / "seaweedfs.log")
    server = EmbeddedS3(
        endpoint_url=f"http://{HOST}:{ports['s3']}", credentials=credentials, process=process, ports=ports
    )
    master_url = f"http://{HOST}:{ports['master']}"
    process.start()
    try:
        _wait_until_ready(process, server.endpoint_url, master_url, credentials, region, bucket, timeout)
    except BaseException:
        server.stop()
        raise
    logger.info("SeaweedFS S3 gateway ready at %s", server.endpoint_url)
    return server


def _write_identities(path: Path, credentials: S3Credentials) -> None:
    identities = {
        "identities": [
            {
                "name": "videoforge",
                "credentials": [{"accessKey": credentials.access_key_id, "secretKey": credentials.secret_access_key}],
                "actions": _ACTIONS,
            }
        ]
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(identities, file)


def _ports(path: Path, avoid: Collection[int]) -> dict[str, int]:
    """The ports of the last run when they are all free again, otherwise new free ones (and remember them)."""

    def usable(port: int) -> bool:
        return port not in avoid and port_is_free(HOST, port)

    with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
        stored = json.loads(path.read_text())
        previous = {server: int(stored[server]) for server in _SERVERS}
        if all(usable(port) and usable(port + GRPC_PORT_OFFSET) for port in previous.values()):
            return previous
    chosen: dict[str, int] = {}
    taken: set[int] = set()
    while len(chosen) < len(_SERVERS):
        port = random.randrange(*_PORT_RANGE)
        pair = {port, port + GRPC_PORT_OFFSET}
        if pair & taken or not all(usable(candidate) for candidate in pair):
            continue
        chosen[_SERVERS[len(chosen)]] = port
        taken |= pair
    path.write_text(json.dumps(chosen))
    return chosen


def _wait_until_ready(
    process: ChildProcess,
    endpoint_url: str,
    master_url: str,
    credentials: S3Credentials,
    region: str,
    bucket: str | None,
    timeout: float,
) -> None:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=1,
            read_timeout=5,
            retries={"max_attempts": 1},
        ),
    )
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0, trust_env=False) as http:
        while (problem := _not_ready_because(client, http, master_url)) is not None:
            code = process.poll()
            if code is not None:
                raise EmbeddedServerError(
                    f"SeaweedFS exited with code {code} while starting; last lines of {process.log_path}:\n"
                    f"{process.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"SeaweedFS was not ready at {endpoint_url} within {timeout:g} s ({problem}); "
                    f"last lines of {process.log_path}:\n{process.log_tail()}"
                )
            time.sleep(0.1)
    if bucket:
        _create_bucket(client, bucket)


def _not_ready_because(client: BaseClient, http: httpx.Client, master_url: str) -> str | None:
    try:
        # Listing proves the gateway is up and has loaded our identity, not only that it listens.
        client.list_buckets()
        topology = http.get(f"{master_url}/dir/status").json()["Topology"]
    except (ClientError, BotoCoreError, httpx.HTTPError, ValueError, KeyError) as error:
        return str(error)
    # Until the volume server's first heartbeat lands (seconds, on a restart) stored objects can't be read.
    data_nodes = [
        node
        for center in topology.get("DataCenters") or []
        for rack in center.get("Racks") or []
        for node in rack.get("DataNodes") or []
    ]
    return None if data_nodes else "the volume server has not registered with the master yet"


def _create_bucket(client: BaseClient, bucket: str) -> None:
    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
