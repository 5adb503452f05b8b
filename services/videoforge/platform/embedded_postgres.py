"""PostgreSQL 16 in the data directory (pgserver's binaries): the database of a one-machine platform.

pgserver starts the server detached (pg_ctl), as its own ``pgserver`` user when run as root, listening
only on a unix socket; it picks a short socket directory itself when the data directory's path is too
long for one. Stopping is done here: pgserver's own exit hook skips the stop whenever a crashed run
left its pid in pgserver's handle list.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from videoforge.platform.processes import wait_until_gone

with warnings.catch_warnings():
    # Importing pgserver warns when XDG_RUNTIME_DIR is unset, which is normal on servers.
    warnings.simplefilter("ignore")
    import pgserver
    from pgserver.utils import PostmasterInfo

logger = logging.getLogger(__name__)

DATABASE = "videoforge"
STOP_TIMEOUT_SECONDS = 30


class EmbeddedPostgres:
    def __init__(self, server: pgserver.PostgresServer, *, url: str) -> None:
        self.pgdata: Path = server.pgdata
        self.url = url
        self._server = server

    def postmaster(self) -> psutil.Process | None:
        """The running server's main process, from its pid file; None when it is not running."""
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None or info.process is None:
            return None
        try:
            # A pid file left by a crash may name a pid the OS has since given to another program.
            return info.process if info.process.name() == "postgres" else None
        except psutil.NoSuchProcess:
            return None

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Fast shutdown (open sessions are rolled back), then make sure no server process is left."""
        postmaster = self.postmaster()
        if postmaster is not None:
            family = [postmaster, *postmaster.children(recursive=True)]
            pgserver.pg_ctl(
                ["-w", "-t", str(int(timeout)), "-m", "fast", "stop"],
                pgdata=self.pgdata,
                user=self._server.system_user,
            )
            for process in wait_until_gone(family, timeout):
                logger.warning("PostgreSQL process %d outlived the shutdown; killing it", process.pid)
                process.kill()
        # pgserver caches one handle per data directory: a stopped server's must not be handed out again.
        self._server.cleanup()  # with cleanup_mode=None this only drops the handle
        # It stays cached when a crashed run's pid is still in pgserver's handle list.
        pgserver.PostgresServer._instances.pop(self.pgdata, None)
        logger.info("PostgreSQL stopped (%s)", self.pgdata)


def start_embedded_postgres(data_dir: Path, *, database: str = DATABASE) -> EmbeddedPostgres:
    """Start (or reuse) the server in ``data_dir/postgres`` and return it with ``database`` created."""
    pgdata = (data_dir / "postgres").resolve()
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    maintenance_url = server.get_uri()
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    url = server.get_uri(database)
    logger.info("PostgreSQL ready (%s)", pgdata)
    return EmbeddedPostgres(server, url=url)
