"""Renders the mesh's certificates as Kubernetes Secrets: one `kubernetes.io/tls` Secret per identity that runs
in the cluster (`mesh-gallery`, `mesh-worker`, `mesh-edge`, ...), holding its tls.crt and tls.key and the mesh CA
as ca.crt, which each Deployment mounts at /etc/videoforge/mesh (MESH_* in videoforge-config).

The CA and the certificates are made once in --pki-dir and reused by every later run, which renews only the
certificates near their end; keep that folder safe and out of the cluster: it holds the CA's key, which no
Secret does. The `operator` identity's certificate stays there too, for people's own tools.

    python deploy/render_mesh_secrets.py --pki-dir ~/videoforge-mesh-pki --output mesh-secrets.yaml
    kubectl apply -f mesh-secrets.yaml
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any

import yaml

from videoforge.kit.mesh_tls import MESH_IDENTITIES, OPERATOR
from videoforge.platform.mesh_certificates import MeshIdentityFiles, ensure_mesh_certificates

# Every identity a pod runs as; the operator's is for tools outside the cluster.
CLUSTER_IDENTITIES = tuple(identity for identity in MESH_IDENTITIES if identity != OPERATOR)


def secret_name(identity: str) -> str:
    return f"mesh-{identity}"


def mesh_secrets(pki_dir: Path, *, namespace: str) -> list[dict[str, Any]]:
    """A Secret manifest per cluster identity, from the certificates in `pki_dir` (made there when missing)."""
    files = ensure_mesh_certificates(pki_dir)
    return [_secret(identity, files[identity], namespace) for identity in CLUSTER_IDENTITIES]


def _secret(identity: str, files: MeshIdentityFiles, namespace: str) -> dict[str, Any]:
    def encoded(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode("ascii")

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(identity),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "videoforge", "app.kubernetes.io/part-of": "videoforge"},
        },
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": encoded(files.cert_file),
            "tls.key": encoded(files.key_file),
            "ca.crt": encoded(files.ca_file),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pki-dir", type=Path, required=True, help="where the CA and certificates are kept")
    parser.add_argument("--namespace", default="videoforge")
    parser.add_argument("--output", type=Path, help="where to write the manifests (default: standard output)")
    args = parser.parse_args(argv)
    text = yaml.safe_dump_all(mesh_secrets(args.pki_dir, namespace=args.namespace), sort_keys=False)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.touch(mode=0o600)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
