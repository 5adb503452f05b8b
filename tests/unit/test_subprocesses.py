"""The one place subprocesses start: streaming output, timeouts and cancellation that stop the whole
process group, and command lines logged without secrets."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

import pytest

from videoforge.kit.subprocesses import (
    MASK,
    ProcessFailed,
    ProcessTimedOut,
    ResourceLimits,
    redact_argv,
    run_process,
)

# Prints the shell's pid (its group id) and the background child's pid, then waits on both.
TWO_SLEEPERS = ["sh", "-c", "sleep 60 & echo $$ $!; sleep 60"]


def _living_members(pgid: int) -> list[int]:
    """Pids of the group that are still running (zombies left for init to reap don't count)."""
    living = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            living.append(int(entry.name))
    return living


async def _wait_until_gone(pgid: int) -> list[int]:
    for _ in range(50):
        if not (living := _living_members(pgid)):
            return living
        await asyncio.sleep(0.02)
    return _living_members(pgid)


async def test_stdout_lines_stream_to_the_callback_as_they_are_written() -> None:
    seen: list[tuple[str, float]] = []
    started = time.monotonic()

    await run_process(
        ["sh", "-c", "echo one; sleep 0.3; echo two"],
        timeout=10,
        on_stdout_line=lambda line: seen.append((line, time.monotonic() - started)),
    )

    assert [line for line, _ in seen] == ["one", "two"]
    assert seen[1][1] - seen[0][1] >= 0.2


async def test_a_finished_process_returns_its_status_and_output_tails(tmp_path: Path) -> None:
    result = await run_process(["sh", "-c", "pwd; echo warning >&2"], timeout=10, cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout_tail == str(tmp_path)
    assert result.stderr_tail == "warning"


async def test_a_failing_process_raises_with_its_stderr_tail() -> None:
    with pytest.raises(ProcessFailed) as failure:
        await run_process(["sh", "-c", "echo 'moov atom not found' >&2; exit 3"], timeout=10)

    assert failure.value.returncode == 3
    assert "moov atom not found" in failure.value.stderr_tail
    assert "moov atom not found" in str(failure.value)


async def test_timeout_kills_the_whole_process_group() -> None:
    pids: list[int] = []
    started = time.monotonic()

    with pytest.raises(ProcessTimedOut) as timed_out:
        await run_process(TWO_SLEEPERS, timeout=0.5, on_stdout_line=lambda line: pids.extend(map(int, line.split())))

    assert time.monotonic() - started < 5
    assert timed_out.value.timeout == 0.5
    shell, background = pids
    assert await _wait_until_gone(shell) == []
    assert background not in _living_members(shell)


async def test_cancelling_the_task_kills_the_whole_process_group() -> None:
    pids: list[int] = []
    started = asyncio.Event()

    def note_pids(line: str) -> None:
        pids.extend(map(int, line.split()))
        started.set()

    task = asyncio.create_task(run_process(TWO_SLEEPERS, timeout=60, on_stdout_line=note_pids))
    await started.wait()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await _wait_until_gone(pids[0]) == []


async def test_an_error_in_the_stdout_callback_kills_the_process_and_propagates() -> None:
    pids: list[int] = []

    def refuse(line: str) -> None:
        pids.extend(map(int, line.split()))
        raise ValueError("output too large")

    with pytest.raises(ValueError, match="output too large"):
        await run_process(TWO_SLEEPERS, timeout=60, on_stdout_line=refuse)

    assert await _wait_until_gone(pids[0]) == []


async def test_the_logged_command_never_shows_secrets(caplog: pytest.LogCaptureFixture) -> None:
    url = "https://cdn.example/v/master.m3u8?Policy=eyJwb2xpY3k&Signature=c2lnbmF0dXJl~x&Key-Pair-Id=K2"
    caplog.set_level(logging.INFO, logger="videoforge.kit.subprocesses")

    await run_process(["echo", "--password", "hunter2", url, "token=opaque-value"], timeout=10, redact=["K2"])

    logged = caplog.text
    for secret in ("hunter2", "eyJwb2xpY3k", "c2lnbmF0dXJl", "opaque-value", "K2"):
        assert secret not in logged
    assert "https://cdn.example/v/master.m3u8" in logged


async def test_output_tails_never_show_secrets() -> None:
    script = "echo 'GET /k?X-Amz-Signature=deadbeef failed' >&2; echo hunter2; exit 1"

    with pytest.raises(ProcessFailed) as failure:
        await run_process(["sh", "-c", script, "hunter2"], timeout=10, redact=["hunter2"])

    assert "deadbeef" not in failure.value.stderr_tail
    assert "deadbeef" not in str(failure.value)
    assert f"X-Amz-Signature={MASK}" in failure.value.stderr_tail
    assert "hunter2" not in failure.value.command


def test_redaction_masks_listed_values_flags_and_signed_query_strings() -> None:
    argv = [
        "packager",
        "--keys",
        "label=:key_id=abc:key=def",
        "--key=0123",
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F2024&X-Amz-Signature=deadbeef&x-id=GetObject",
        "api_key=s3cr3t",
        "aws-password-value",
    ]

    shown = redact_argv(argv, redact=["aws-password-value"])

    assert shown == [
        "packager",
        "--keys",
        MASK,
        f"--key={MASK}",
        f"https://b.s3.amazonaws.com/k?X-Amz-Credential={MASK}&X-Amz-Signature={MASK}&x-id=GetObject",
        f"api_key={MASK}",
        MASK,
    ]


def test_redaction_leaves_encoder_options_that_merely_contain_key_readable() -> None:
    argv = ["ffmpeg", "-keyint_min", "60", "-force_key_frames", "expr:gte(t,n_forced*2)", "-x264-params", "keyint=60"]

    assert redact_argv(argv) == argv


async def test_a_missing_program_raises_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        await run_process([os.devnull + "-no-such-program"], timeout=5)


async def test_a_child_runs_under_the_limits_it_is_given(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="videoforge.kit.subprocesses")
    limits = ResourceLimits(memory_bytes=512 * 1024**2, cpu_seconds=7, file_bytes=1024**2)

    result = await run_process(["sh", "-c", "ulimit -v; ulimit -t; ulimit -f"], timeout=10, limits=limits)

    # `ulimit` counts memory in KiB and file sizes in 512-byte blocks.
    assert result.stdout_tail.splitlines() == [str(512 * 1024), "7", str(1024**2 // 512)]
    assert "under --as=536870912 --cpu=7:12 --fsize=1048576" in caplog.records[-1].getMessage()


async def test_a_child_past_its_cpu_time_is_stopped_and_says_so() -> None:
    with pytest.raises(ProcessFailed) as failure:
        await run_process(["sh", "-c", "while :; do :; done"], timeout=30, limits=ResourceLimits(cpu_seconds=1))

    assert failure.value.limit_exceeded == "its CPU time limit"
    assert str(failure.value).startswith("sh was stopped at its CPU time limit")


async def test_a_child_writing_past_its_file_size_is_stopped_and_says_so(tmp_path: Path) -> None:
    argv = ["dd", "if=/dev/zero", f"of={tmp_path / 'big'}", "bs=1M", "count=4"]

    with pytest.raises(ProcessFailed) as failure:
        await run_process(argv, timeout=30, limits=ResourceLimits(file_bytes=1024**2))

    assert failure.value.limit_exceeded == "its file size limit"
    assert (tmp_path / "big").stat().st_size == 1024**2


async def test_a_child_past_its_memory_fails_to_allocate() -> None:
    argv = [sys.executable, "-c", "bytearray(256 * 1024**2)"]

    with pytest.raises(ProcessFailed) as failure:
        await run_process(argv, timeout=30, limits=ResourceLimits(memory_bytes=128 * 1024**2))

    assert "MemoryError" in failure.value.stderr_tail
    assert failure.value.limit_exceeded is None
