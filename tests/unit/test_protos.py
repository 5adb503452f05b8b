"""The API contract's hygiene: buf lint passes and the committed generated code matches proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services" / "videoforge"


def test_buf_lint_passes() -> None:
    buf = Path(sys.executable).parent / "buf"
    result = subprocess.run([str(buf), "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_stubs_and_descriptor_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/generate_protos.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_domain_and_service_layers_import_no_transport_storage_or_adapter() -> None:
    forbidden = ("import grpc", "from grpc", "import sqlalchemy", "from sqlalchemy", "import boto3", "from boto3")
    layers = [*SERVICES.glob("*/domain/*.py"), *SERVICES.glob("*/service_layer/*.py"), SERVICES / "media_model.py"]
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in layers
        for line in path.read_text().splitlines()
        if line.strip().startswith(forbidden)
        # Service layers depend on ports: never on an adapter, a client or generated stubs.
        or (line.startswith("from videoforge.") and (".adapters" in line or ".client " in line or ".v1 " in line))
    ]
    assert len(layers) > 10 and offenders == []
