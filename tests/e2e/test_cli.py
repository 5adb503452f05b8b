"""The `videoforge` command as a person uses it against a running platform."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.fixtures.media_host import MediaHost, Page
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory

pytestmark = pytest.mark.e2e
PASSWORD = "cli-pass-word-1"


class Cli:
    def __init__(self, platform: RunningPlatform, config_dir: Path) -> None:
        self.platform, self.env = platform, {**os.environ, "VIDEOFORGE_CONFIG_DIR": str(config_dir), "COLUMNS": "200"}

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "videoforge", *args], capture_output=True, text=True, env=self.env, timeout=300
        )
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture(scope="module")
def cli(platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    runner = Cli(platform, tmp_path_factory.mktemp("cli-config"))
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    runner("login", "--register", "--email", email, "--password", PASSWORD, "--server", platform.url)
    return runner


def test_login_keeps_the_token_readable_only_by_the_user(cli: Cli) -> None:
    path = Path(cli.env["VIDEOFORGE_CONFIG_DIR"]) / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["access_token"]


async def test_upload_wait_then_manage_the_video(cli: Cli, media_factory: MediaFactory) -> None:
    clip = await media_factory.no_audio()
    uploaded = cli("upload", str(clip), "--title", "From the CLI", "--visibility", "unlisted", "--wait")
    assert "HLS:" in uploaded.stdout and "DASH:" in uploaded.stdout
    mine = cli.json("videos", "list", "--mine")
    video = next(v for v in mine["videos"] if v["title"] == "From the CLI")
    assert video["status"] == "ready" and video["visibility"] == "unlisted"
    public = cli.json("videos", "list")
    assert video["id"] not in [v["id"] for v in public["videos"] if v["ownerId"] != video["ownerId"]]
    shown = cli("videos", "show", video["id"])
    assert "From the CLI" in shown.stdout and "640x360" in shown.stdout
    updated = cli.json("videos", "update", video["id"], "--title", "Renamed", "--visibility", "private")
    assert (updated["title"], updated["visibility"]) == ("Renamed", "private")
    playback = cli.json("play", video["id"])
    assert playback["hlsUrl"].startswith(cli.platform.url)
    jobs = cli.json("jobs", "list")
    assert any(j["videoId"] == video["id"] and j["status"] == "COMPLETED" for j in jobs["jobs"])
    cli("videos", "delete", video["id"], "--yes")
    gone = cli("videos", "show", video["id"], ok=False)
    assert gone.returncode == 1 and "No video" in gone.stderr and "Traceback" not in gone.stderr


def test_admin_commands_need_an_admin_and_work_for_one(cli: Cli, tmp_path: Path) -> None:
    refused = cli("admin", "stats", ok=False)
    assert refused.returncode == 1 and "administrator" in refused.stderr and "Traceback" not in refused.stderr
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    data_dir = str(cli.platform.data_dir)
    cli("users", "create", "--email", email, "--password", PASSWORD, "--admin", "--data-dir", data_dir)
    admin = Cli(cli.platform, tmp_path)
    admin("login", "--email", email, "--password", PASSWORD, "--server", cli.platform.url)
    stats = admin.json("admin", "stats")
    assert int(stats["storageBytes"]) >= 0 and "COMPLETED" in stats["jobsByState"]
    assert "jobs" in admin.json("admin", "jobs") or admin.json("admin", "jobs") == {"totalSize": 0}
    assert "Restarted" in admin("admin", "restart-failed").stdout
    assert "freed" in admin("admin", "cleanup", "--days", "30").stdout


async def test_reconcile_finds_and_removes_only_what_nothing_references(
    cli: Cli, tmp_path: Path, media_factory: MediaFactory
) -> None:
    title = f"Kept {uuid.uuid4().hex[:6]}"
    cli("upload", str(await media_factory.tiny()), "--title", title, "--wait")
    video = next(v for v in cli.json("videos", "list", "--mine")["videos"] if v["title"] == title)
    video_id = video["id"]
    job_id = video["latestJob"]["jobId"]
    bucket = cli.platform.blob_store()
    published = [info.key for info in await bucket.list(f"videos/{video_id}/jobs/{job_id}/")]
    strays = {
        f"videos/{video_id}/jobs/{job_id}/attempt-9/": "an attempt the job never completed",
        f"videos/{video_id}/jobs/0000deadjob/attempt-1/": "a job that is gone",
    }
    source = tmp_path / "stray.m4s"
    source.write_bytes(b"stray segment")
    for prefix in strays:
        await bucket.upload_file(source, prefix + "seg_1.m4s", "video/mp4")
    admin = Cli(cli.platform, tmp_path / "admin")
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    cli(
        "users", "create", "--email", email, "--password", PASSWORD, "--admin", "--data-dir", str(cli.platform.data_dir)
    )
    admin("login", "--email", email, "--password", PASSWORD, "--server", cli.platform.url)

    listed = admin.json("admin", "reconcile")
    assert set(strays) <= set(listed["orphanedOutputs"])
    assert not any(key.startswith(tuple(listed["orphanedOutputs"])) for key in published)
    assert await bucket.head(next(iter(strays)) + "seg_1.m4s"), "listing deletes nothing"

    applied = admin.json("admin", "reconcile", "--apply")
    assert applied["applied"] and set(strays) <= set(applied["orphanedOutputs"])
    for prefix in strays:
        assert await bucket.list(prefix) == []
    assert sorted(info.key for info in await bucket.list(f"videos/{video_id}/jobs/{job_id}/")) == sorted(published)
    assert admin.json("admin", "reconcile")["orphanedOutputs"] == []
    playback = cli.json("play", video_id)
    assert httpx.get(playback["hlsUrl"], timeout=30).status_code == 200


def test_an_unreachable_server_gets_a_hint_not_a_traceback(cli: Cli) -> None:
    result = cli("videos", "list", "--server", "http://127.0.0.1:9", ok=False)
    assert result.returncode == 1
    assert "videoforge up" in result.stderr and "Traceback" not in result.stderr


async def test_upload_from_a_url_imports_and_waits_until_it_plays(
    cli: Cli, media_factory: MediaFactory, media_host: MediaHost
) -> None:
    media_host.put("/cli/holiday.mp4", Page(body=(await media_factory.tiny()).read_bytes()))

    imported = cli("upload", "--url", f"http://{media_host.address}/cli/holiday.mp4", "--wait")

    assert "Importing: video" in imported.stdout and "HLS:" in imported.stdout
    listed = cli.json("videos", "list", "--mine")
    assert "holiday" in [video["title"] for video in listed["videos"]]
    neither = cli("upload", ok=False)
    assert neither.returncode == 2 and "--url" in neither.stderr
    unknown = cli("upload", "--url", "https://media.example.com/a.mp4", "--codecs", "av1,vp9", ok=False)
    assert unknown.returncode == 2 and "allowed: h264, hevc, av1" in unknown.stderr


def test_every_command_explains_itself_with_an_example() -> None:
    for command in (["upload"], ["videos", "list"], ["jobs", "watch"], ["admin", "cleanup"], ["play"], ["login"]):
        result = subprocess.run(
            [sys.executable, "-m", "videoforge", *command, "--help"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0 and "Example:" in result.stdout, command
