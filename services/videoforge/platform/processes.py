"""Long-lived server children of `videoforge up`: started here, and stopped here leaving nothing behind.

Each child leads its own process group, so Ctrl-C in the terminal reaches only the supervisor (which
then stops children in order) and stopping a child also stops whatever it spawned. One-shot commands
go through `videoforge.kit.subprocesses` instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sysconfig
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import psutil

from videoforge.kit.subprocesses import redact_argv

logger = logging.getLogger(__name__)

TERM_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 30
_LOG_TAIL_BYTES = 64 * 1024


def installed_binary(name: str) -> str:
    """A program installed with VideoForge's wheels (``weed``): beside this interpreter, else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed; reinstall videoforge to get it")
    return found


class ChildProcess:
    """One server child; `start` may be called again after it exited (a restart), appending to its log."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = tuple(argv)
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0  # time.monotonic() of the last start
        self.create_time: float | None = None  # the OS's start time: tells a live child from a reused pid

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting %s: %s (log: %s)", self.name, shlex.join(redact_argv(self.argv)), self.log_path)
        with self.log_path.open("ab") as log:
            log.write(f"--- {datetime.now().isoformat(timespec='seconds')} starting {self.name}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        try:
            self.create_time = psutil.Process(self._process.pid).create_time()
        except psutil.NoSuchProcess:
            self.create_time = None

    def poll(self) -> int | None:
        """The exit status once the child has exited, None while it runs (or before it was started)."""
        return self._process.poll() if self._process is not None else None

    def stop(self, grace: float = TERM_GRACE_SECONDS) -> int | None:
        """SIGTERM the child's group, wait up to `grace` s, then SIGKILL the group and every descendant.

        Also cleans up after a child that already exited: what it spawned may still be running.
        """
        process = self._process
        if process is None:
            return None
        # Descendants that made their own session (a worker's FFmpeg) are out of reach of the group signal.
        descendants = _descendants(process.pid)
        deadline = time.monotonic() + grace
        _signal_group(process.pid, signal.SIGTERM)
        _signal_each(descendants, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
        if process.poll() is None:
            logger.warning("%s did not stop within %g s of SIGTERM; killing it", self.name, grace)
        lingering = wait_until_gone(descendants, deadline - time.monotonic())
        _signal_group(process.pid, signal.SIGKILL)
        _signal_each(lingering, signal.SIGKILL)
        process.wait()
        wait_until_gone(lingering, grace)
        logger.info("%s stopped (exit status %s)", self.name, process.returncode)
        return process.returncode

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def stop_leftover(name: str, pid: int, create_time: float, grace: float = TERM_GRACE_SECONDS) -> bool:
    """Stop a child a crashed supervisor left running (its group and descendants); False if it is gone.

    The start time must match, so a pid the OS has since given to another program is left alone.
    """
    try:
        leader = psutil.Process(pid)
        if abs(leader.create_time() - create_time) > 0.01:
            return False
        family = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    logger.warning("stopping %s (pid %d), left running by a previous run", name, pid)
    _signal_group(pid, signal.SIGTERM)
    _signal_each(family, signal.SIGTERM)
    lingering = wait_until_gone(family, grace)
    _signal_group(pid, signal.SIGKILL)
    _signal_each(lingering, signal.SIGKILL)
    wait_until_gone(lingering, grace)
    return True


def wait_until_gone(processes: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until none of `processes` runs; return those still running after `timeout` s."""
    deadline = time.monotonic() + timeout
    while (running := [process for process in processes if _is_running(process)]) and (time.monotonic() < deadline):
        time.sleep(0.05)
    return running


def _is_running(process: psutil.Process) -> bool:
    # A zombie has finished: only its parent (init, for orphans, sometimes slowly) has yet to reap it.
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _signal_each(processes: Sequence[psutil.Process], signum: int) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signum)


def _signal_group(pgid: int, signum: int) -> None:
    # Nothing left in the group (ESRCH), or only members we may not signal: either way, nothing to do.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
