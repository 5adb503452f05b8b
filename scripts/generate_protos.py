"""Regenerates the Python stubs (with .pyi) and the Envoy descriptor set from proto/, the stubs of the
vendored Envoy API subset in third_party/envoy/ (stubs only: the edge's descriptor set never describes it), and
the JSON API's OpenAPI document from the descriptor set.

    python scripts/generate_protos.py          # write
    python scripts/generate_protos.py --check  # exit 1 when the committed output is stale
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

from videoforge.gateway.openapi import openapi_text

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
# Laid out as videoforge/..., so its stubs land inside our package next to the services that use them.
ENVOY_API = ROOT / "third_party" / "envoy"
STUBS = ROOT / "services"
DESCRIPTOR = ROOT / "gateway" / "videoforge.binpb"
OPENAPI = ROOT / "gateway" / "openapi.json"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def include_paths() -> list[str]:
    well_known = resources.files("grpc_tools") / "_proto"
    google_api = Path(resources.files("google.api").joinpath("http.proto")).parent.parent.parent
    return [str(PROTO), str(well_known), str(google_api)]


# Not imported by our protos, but the edge must know the error detail types to print failures as JSON.
DESCRIPTOR_EXTRAS = ["google/rpc/error_details.proto"]


def generate(stub_dir: Path, descriptor: Path) -> None:
    sources = _sources(PROTO)
    # --include_imports/--include_source_info: Envoy's transcoder needs every dependency and the comments.
    descriptor_args = [f"--descriptor_set_out={descriptor}", "--include_imports", "--include_source_info"]
    _protoc([PROTO, *include_paths()], stub_dir, [*descriptor_args, *sources, *DESCRIPTOR_EXTRAS])
    envoy_sources = _sources(ENVOY_API)
    _protoc([ENVOY_API, *include_paths()], stub_dir, envoy_sources)
    # Google's own stubs come from googleapis-common-protos; only ours are kept.
    shutil.rmtree(stub_dir / "google", ignore_errors=True)
    for source in [*sources, *envoy_sources]:
        package = stub_dir / Path(source).parent
        (package / "__init__.py").touch()


def _sources(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))


def _protoc(includes: list[Path | str], stub_dir: Path, rest: list[str]) -> None:
    """Python, gRPC and typing stubs of the sources in `rest` (plus any other protoc arguments there)."""
    args = ["grpc_tools.protoc", *(f"-I{p}" for p in includes)]
    args += [f"--python_out={stub_dir}", f"--grpc_python_out={stub_dir}"]
    bin_dir = Path(sys.executable).parent
    args += [f"--plugin=protoc-gen-{name}={bin_dir / f'protoc-gen-{name}'}" for name in ("mypy", "mypy_grpc")]
    args += [f"--mypy_out={stub_dir}", f"--mypy_grpc_out={stub_dir}"]
    if protoc.main([*args, *rest]) != 0:
        raise SystemExit("protoc failed")


def generated_files(stub_dir: Path) -> dict[str, Path]:
    return {str(p.relative_to(stub_dir)): p for p in stub_dir.rglob("*") if p.name.endswith(GENERATED_SUFFIXES)}


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh_stubs, fresh_descriptor = Path(tmp) / "stubs", Path(tmp) / "videoforge.binpb"
        fresh_stubs.mkdir()
        generate(fresh_stubs, fresh_descriptor)
        fresh, committed = generated_files(fresh_stubs), generated_files(STUBS)
        stale = sorted(set(fresh) ^ set(committed))
        stale += [
            name
            for name in fresh.keys() & committed.keys()
            if not filecmp.cmp(fresh[name], committed[name], shallow=False)
        ]
        if not DESCRIPTOR.exists() or DESCRIPTOR.read_bytes() != fresh_descriptor.read_bytes():
            stale.append(str(DESCRIPTOR.relative_to(ROOT)))
        if not OPENAPI.exists() or OPENAPI.read_text() != openapi_text(fresh_descriptor):
            stale.append(str(OPENAPI.relative_to(ROOT)))
    for name in stale:
        print(f"stale: {name}", file=sys.stderr)
    if stale:
        print("Run: python scripts/generate_protos.py", file=sys.stderr)
    return 1 if stale else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when committed output differs")
    if parser.parse_args().check:
        return check()
    for stale in generated_files(STUBS).values():
        stale.unlink()
    generate(STUBS, DESCRIPTOR)
    OPENAPI.write_text(openapi_text(DESCRIPTOR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
