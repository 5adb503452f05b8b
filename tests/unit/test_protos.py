"""The API contract's hygiene: buf lint passes and the committed generated code matches proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_buf_lint_passes() -> None:
    buf = Path(sys.executable).parent / "buf"
    result = subprocess.run([str(buf), "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_stubs_and_descriptor_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/generate_protos.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_domain_layers_import_no_transport_or_storage_library() -> None:
    forbidden = ("import grpc", "from grpc", "import sqlalchemy", "from sqlalchemy", "import boto3", "from boto3")
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in (ROOT / "services" / "videoforge").glob("*/domain/*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(forbidden)
    ]
    assert offenders == []
