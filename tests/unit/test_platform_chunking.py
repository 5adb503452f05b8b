"""Under `videoforge up`, a single worker encodes every source whole (chunks only pay with two or more workers, and
a whole encode plays while it grows); with more workers, or when the setting is given, the setting decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoforge.kit.settings import Settings
from videoforge.platform.supervisor import platform_children


def _worker_environment(settings: Settings, workers: int) -> dict[str, str]:
    children = platform_children(settings, workers=workers)
    worker_envs = [dict(child.environment) for child in children if child.name.startswith("worker-")]
    assert len(worker_envs) == workers
    return worker_envs[0]


def test_one_worker_never_chunks_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHUNKED_MIN_SOURCE_SECONDS", raising=False)
    settings = Settings(data_dir=tmp_path)
    assert _worker_environment(settings, 1)["CHUNKED_MIN_SOURCE_SECONDS"] == "0"
    assert "CHUNKED_MIN_SOURCE_SECONDS" not in _worker_environment(settings, 2)

    monkeypatch.setenv("CHUNKED_MIN_SOURCE_SECONDS", "120")
    assert "CHUNKED_MIN_SOURCE_SECONDS" not in _worker_environment(Settings(data_dir=tmp_path), 1)
