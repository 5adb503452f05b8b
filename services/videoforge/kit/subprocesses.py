"""The one place VideoForge starts subprocesses: logged without secrets, bounded in time, never orphaned.

Every child runs in its own process group (`start_new_session=True`), so a timeout or a cancelled task
stops the whole group (SIGTERM, a short grace, then SIGKILL), not only the direct child. Children that read
untrusted files also run under kernel resource limits (`ResourceLimits`): memory, CPU time and file size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MASK = "***"
TAIL_LINES = 40
TERM_GRACE_SECONDS = 3.0
CPU_GRACE_SECONDS = 5
# The longest line read from a child; a longer one stops it (FFmpeg's tools write short lines).
MAX_LINE_BYTES = 1 << 20

# Names whose values are secrets: `key`, `api_key`, `X-Amz-Signature`, `Signature`, `Policy`, `--password`...
# The sensitive word must end the name, so `keyint`, `force_key_frames` or `Key-Pair-Id` stay readable.
_SECRET_NAME = r"(?:[\w.-]*[-_])?(?:key|keys|signature|token|secret|password|passphrase|credential|policy)"
_SECRET_ASSIGNMENT = re.compile(rf"(?i)(?<![\w.-])(-{{0,2}}{_SECRET_NAME}=)[^&\s;:,'\"]*")
_SECRET_FLAG = re.compile(rf"(?i)-{{1,2}}{_SECRET_NAME}")


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """Kernel limits (setrlimit) on a child and whatever it starts; None leaves a resource unlimited.

    Past `memory_bytes` of address space allocations fail; past `cpu_seconds` the kernel sends SIGXCPU, and
    SIGKILL `CPU_GRACE_SECONDS` later to a program that caught it (FFmpeg does); a write past `file_bytes` in
    any one file gets SIGXFSZ.
    """

    memory_bytes: int | None = None
    cpu_seconds: int | None = None
    file_bytes: int | None = None

    def prlimit_options(self) -> list[str]:
        options = []
        if self.memory_bytes is not None:
            options.append(f"--as={self.memory_bytes}")
        if self.cpu_seconds is not None:
            options.append(f"--cpu={self.cpu_seconds}:{self.cpu_seconds + CPU_GRACE_SECONDS}")
        if self.file_bytes is not None:
            options.append(f"--fsize={self.file_bytes}")
        return options


# What each limit's signal means, in the words ProcessFailed uses.
_LIMIT_SIGNALS = {int(signal.SIGXCPU): "its CPU time limit", int(signal.SIGXFSZ): "its file size limit"}


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """A finished process: its exit status and the last lines it wrote."""

    command: str
    returncode: int
    stdout_tail: str
    stderr_tail: str


class ProcessError(Exception):
    """A subprocess did not finish well; `command` is already redacted."""

    def __init__(self, message: str, *, command: str, stderr_tail: str) -> None:
        super().__init__(message)
        self.command = command
        self.stderr_tail = stderr_tail


class ProcessFailed(ProcessError):
    """The process exited with a non-zero status."""

    def __init__(self, *, command: str, returncode: int, stderr_tail: str) -> None:
        program = shlex.split(command)[0] if command else "process"
        last = stderr_tail.strip().splitlines()[-1:] or [""]
        self.returncode = returncode
        # Set when the kernel stopped the child at one of its ResourceLimits.
        self.limit_exceeded = _LIMIT_SIGNALS.get(-returncode)
        ending = f"was stopped at {self.limit_exceeded}" if self.limit_exceeded else f"exited with status {returncode}"
        super().__init__(f"{Path(program).name} {ending}: {last[0]}", command=command, stderr_tail=stderr_tail)


class ProcessTimedOut(ProcessError):
    """The process ran past its time limit and its process group was killed."""

    def __init__(self, *, command: str, timeout: float, stderr_tail: str) -> None:
        program = shlex.split(command)[0] if command else "process"
        super().__init__(
            f"{Path(program).name} ran past its {timeout:g} s limit and was stopped",
            command=command,
            stderr_tail=stderr_tail,
        )
        self.timeout = timeout


def redact_argv(argv: Sequence[str], redact: Iterable[str] = ()) -> list[str]:
    """Return argv safe to log: listed values, secret flags' values and secret query parameters masked."""
    values = _longest_first(redact)
    shown: list[str] = []
    mask_next = False
    for arg in argv:
        shown.append(MASK if mask_next else _redact_text(arg, values))
        mask_next = not mask_next and _SECRET_FLAG.fullmatch(arg) is not None
    return shown


def _redact_text(text: str, values: Sequence[str]) -> str:
    for value in values:
        text = text.replace(value, MASK)
    return _SECRET_ASSIGNMENT.sub(rf"\g<1>{MASK}", text)


def _longest_first(values: Iterable[str]) -> list[str]:
    # Longest first, so a value that contains another is masked whole.
    return sorted((value for value in values if value), key=len, reverse=True)


# A worker killed outright must not leave FFmpeg running: setpriv makes the kernel kill the child with
# its parent. (A preexec_fn could do the same, but forces fork(), which is unsafe in a gRPC process.)
_SETPRIV = shutil.which("setpriv")
_DIE_WITH_PARENT = [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV and sys.platform == "linux" else []
# prlimit sets the limits, then execs the program: the same fork()-free start as setpriv's.
_PRLIMIT = shutil.which("prlimit")


async def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    on_stdout_line: Callable[[str], None] | None = None,
    cwd: Path | None = None,
    redact: Iterable[str] = (),
    limits: ResourceLimits | None = None,
) -> ProcessResult:
    """Run argv to completion and return its result.

    Raises `ProcessFailed` on a non-zero exit (`limit_exceeded` says when one of `limits` stopped it) and
    `ProcessTimedOut` past `timeout` seconds. On timeout, cancellation, or an exception raised by
    `on_stdout_line`, the whole process group is stopped and reaped before the exception propagates.
    """
    if (_DIE_WITH_PARENT or limits) and shutil.which(argv[0]) is None:
        # Behind setpriv or prlimit a missing program would look like a failed run; say what is missing instead.
        raise FileNotFoundError(f"no such program: {argv[0]}")
    secrets = _longest_first(redact)
    command = shlex.join(redact_argv(argv, secrets))
    bounds = _limit_prefix(limits)
    logger.info("running %s%s", command, f" under {' '.join(bounds[1:-1])}" if bounds else "")
    process = await asyncio.create_subprocess_exec(
        *_DIE_WITH_PARENT,
        *bounds,
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        start_new_session=True,
        limit=MAX_LINE_BYTES,
    )
    assert process.stdout is not None and process.stderr is not None
    stdout_tail: deque[str] = deque(maxlen=TAIL_LINES)
    stderr_tail: deque[str] = deque(maxlen=TAIL_LINES)
    pumps = [
        asyncio.create_task(_pump(process.stdout, stdout_tail, on_stdout_line)),
        asyncio.create_task(_pump(process.stderr, stderr_tail, None)),
    ]
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            await asyncio.gather(*pumps, process.wait())
    except BaseException:
        await asyncio.shield(_stop_group(process))
        for pump in pumps:
            pump.cancel()
        if deadline.expired():
            stderr = _redact_text("\n".join(stderr_tail), secrets)
            raise ProcessTimedOut(command=command, timeout=timeout, stderr_tail=stderr) from None
        raise
    result = ProcessResult(
        command=command,
        returncode=process.returncode if process.returncode is not None else -1,
        stdout_tail=_redact_text("\n".join(stdout_tail), secrets),
        stderr_tail=_redact_text("\n".join(stderr_tail), secrets),
    )
    if result.returncode != 0:
        raise ProcessFailed(command=command, returncode=result.returncode, stderr_tail=result.stderr_tail)
    return result


def _limit_prefix(limits: ResourceLimits | None) -> list[str]:
    options = limits.prlimit_options() if limits else []
    if not options:
        return []
    if _PRLIMIT is None:
        raise FileNotFoundError("prlimit (util-linux) is needed to run a program under resource limits")
    return [_PRLIMIT, *options, "--"]


async def _pump(stream: asyncio.StreamReader, tail: deque[str], on_line: Callable[[str], None] | None) -> None:
    while raw := await stream.readline():
        line = raw.decode(errors="replace").rstrip("\r\n")
        tail.append(line)
        if on_line is not None:
            on_line(line)


async def _stop_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the child's process group, give the child a short grace, then SIGKILL the group and reap."""
    pgid = process.pid  # start_new_session made the child its group's leader
    if _signal_group(pgid, signal.SIGTERM):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), TERM_GRACE_SECONDS)
        # Whatever of the group outlived its leader (ignored SIGTERM, or was slower) goes now.
        _signal_group(pgid, signal.SIGKILL)
    await process.wait()


def _signal_group(pgid: int, signum: int) -> bool:
    """Send signum to the group; False when nothing of the group is left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True
