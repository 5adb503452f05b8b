"""The mesh's certificate authority and one certificate per identity, made once in a directory and reused.

The layout is the one a Kubernetes TLS Secret mounts, so a container reads its identity's folder as is:
``<dir>/ca.crt``, ``<dir>/ca.key`` (never leaves this directory), and ``<dir>/<identity>/{tls.crt,tls.key,ca.crt}``.
A certificate is made again when it is missing, near its end, or not signed by the CA beside it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from videoforge.kit.mesh_tls import MESH_IDENTITIES
from videoforge.platform.keys import write_private

CA_DAYS = 3650
CERTIFICATE_DAYS = 365
# `up` renews a certificate this close to its end, so a platform restarted now and then never sees one lapse.
RENEW_BEFORE = datetime.timedelta(days=30)
_CA_NAME = "VideoForge mesh CA"
# The CA signs certificates and nothing else.
_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class MeshIdentityFiles:
    """One identity's PEM files, as the MESH_* settings name them."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def settings(self) -> dict[str, Path]:
        return {"mesh_ca_file": self.ca_file, "mesh_cert_file": self.cert_file, "mesh_key_file": self.key_file}

    def environment(self) -> dict[str, str]:
        return {name.upper(): str(path) for name, path in self.settings().items()}


def mesh_directory(data_dir: Path) -> Path:
    return data_dir / "secrets" / "mesh"


def identity_files(directory: Path, identity: str) -> MeshIdentityFiles:
    folder = directory / identity
    return MeshIdentityFiles(folder / "ca.crt", folder / "tls.crt", folder / "tls.key")


def ensure_mesh_certificates(
    directory: Path, identities: Iterable[str] = MESH_IDENTITIES
) -> dict[str, MeshIdentityFiles]:
    """Make what is missing or due under `directory` (a CA, a certificate per identity) and name every file."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca_key, ca_certificate = _ensure_ca(directory)
    ca_pem = ca_certificate.public_bytes(serialization.Encoding.PEM)
    made = {}
    for identity in identities:
        files = identity_files(directory, identity)
        files.cert_file.parent.mkdir(mode=0o700, exist_ok=True)
        if not _still_good(files.cert_file, ca_certificate):
            key, certificate = issue_certificate(ca_key, ca_certificate, identity)
            write_private(files.key_file, _key_pem(key))
            write_private(files.cert_file, certificate.public_bytes(serialization.Encoding.PEM))
        if not files.ca_file.exists() or files.ca_file.read_bytes() != ca_pem:
            write_private(files.ca_file, ca_pem)
        made[identity] = files
    return made


def issue_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca_certificate: x509.Certificate, identity: str, *more_names: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A key and a certificate naming `identity` (and `more_names`) as DNS names, good for both ends of a
    connection."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in (identity, *more_names)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def new_certificate_authority(name: str = _CA_NAME) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def load_certificate_authority(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The CA `ensure_mesh_certificates` made in `directory`."""
    key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{directory / 'ca.key'} is not an EC key")
    return key, x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())


def _ensure_ca(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_file, cert_file = directory / "ca.key", directory / "ca.crt"
    if key_file.exists() and cert_file.exists():
        return load_certificate_authority(directory)
    key, certificate = new_certificate_authority()
    write_private(key_file, _key_pem(key))
    write_private(cert_file, certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def _still_good(cert_file: Path, ca_certificate: x509.Certificate) -> bool:
    if not cert_file.exists() or not cert_file.with_name("tls.key").exists():
        return False
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > RENEW_BEFORE


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
