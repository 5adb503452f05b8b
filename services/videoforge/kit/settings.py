"""One typed Settings object, read once at start. Every setting has an embedded default; env vars override.

Secrets have no defaults: on one machine `videoforge up` generates keys and credentials into the data
directory and passes their paths on; in production they come from the environment.
"""

from __future__ import annotations

import ipaddress
import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from videoforge.kit.address_policy import parse_host_port


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("videoforge", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix="", case_sensitive=False, populate_by_name=True
    )

    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="VIDEOFORGE_DATA_DIR")

    # PostgreSQL. Empty means the embedded server in the data directory.
    database_url: str = ""

    # Object store. Empty endpoint means AWS S3; `up` points it at the embedded SeaweedFS.
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "videoforge-media"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # The address browsers use for presigned URLs when it differs from the services' one.
    s3_public_endpoint_url: str = ""

    # Job queue: PostgreSQL table (default) or AWS SQS.
    queue_backend: Literal["postgres", "sqs"] = "postgres"
    sqs_queue_url: str = ""
    sqs_dead_letter_queue_url: str = ""
    sqs_endpoint_url: str = ""
    sqs_region: str = "us-east-1"
    queue_max_attempts: int = 5
    queue_lease_seconds: float = 30.0
    # On SIGTERM a worker stops claiming and finishes the job in hand for up to this long, then abandons it
    # (its lease lapses and another worker takes it up). Kubernetes gives it this much grace; `up` none.
    worker_drain_seconds: float = Field(default=0.0, ge=0)

    # Where each service listens; services reach each other at these addresses.
    identity_address: str = "127.0.0.1:50061"
    gallery_address: str = "127.0.0.1:50062"
    job_address: str = "127.0.0.1:50063"
    streaming_address: str = "127.0.0.1:50064"
    transcoder_address: str = "127.0.0.1:50065"
    rpc_timeout_seconds: float = 10.0
    # Mutual TLS between services, workers and the edge (PEM files): the CA every party trusts, and this
    # process's certificate, whose DNS name is its identity (`gallery`, `worker`, `edge`...), with its key. Every
    # party needs all three; `videoforge up` makes a CA in the data directory and a certificate per identity.
    mesh_ca_file: Path | None = None
    mesh_cert_file: Path | None = None
    mesh_key_file: Path | None = None
    # A second port on each service's host answering gRPC health checks, and nothing else, in plaintext: for
    # Kubernetes' gRPC probes, which speak no TLS. 0 (the default, and what `up` uses): none.
    health_port: int = Field(default=0, ge=0, le=65535)

    # The edge.
    edge_host: str = "127.0.0.1"
    edge_port: int = 8080
    edge_admin_port: int = 0
    # Envoy's worker threads under `videoforge up`. One: there the edge shares the machine's cores with every
    # service, and on two cores a second worker made the hot reads' p99 six to fifteen times their p50 (about
    # twice with one; bench/playback_bench.py). One worker carries far more than the Python services behind it.
    edge_workers: int = Field(default=1, gt=0)
    # The edge's Prometheus stats alone, passed on from the admin (loopback only) on this port; 0: none.
    edge_stats_port: int = Field(default=0, ge=0)
    # Proxies in front of the edge (CloudFront + ALB = 2): the client is then read from X-Forwarded-For,
    # so per-client rate limits see people, not the load balancer.
    edge_trusted_proxy_hops: int = Field(default=0, ge=0)
    # Safer: the networks the proxies in front of the edge send from (the ALB's subnets), as a JSON list of CIDRs.
    # X-Forwarded-For is then honoured only on connections from those networks; a client that reaches the edge
    # directly cannot name another address. Replaces EDGE_TRUSTED_PROXY_HOPS; set one or the other.
    edge_trusted_proxy_cidrs: list[str] = Field(default_factory=list)
    public_url: str = ""  # empty: http(s)://{edge_host}:{edge_port}
    # TLS at the edge, as a load balancer would terminate it: PEM files of the certificate chain and its key.
    # The edge then speaks HTTPS (HTTP/2 by ALPN) on edge_port, and, if edge_http_redirect_port is set, sends
    # plain HTTP there to the same path over HTTPS.
    edge_tls_cert_file: Path | None = None
    edge_tls_key_file: Path | None = None
    edge_http_redirect_port: int = Field(default=0, ge=0)
    # Per-client rate limits at the edge: requests a minute per client address, with a minute's worth as burst.
    # API calls: 50 a second sustained is far above what a person's app sends and far below what it takes one
    # client to crowd out the rest; the burst also covers the API benchmark's ~2,500 calls from one address.
    edge_rate_limit_per_minute: int = Field(default=3000, gt=0)
    # Sign-in calls (login, register, refresh, password change): after a burst of 60, one password guess a
    # second per address, while a household or office behind one NAT still signs in freely.
    edge_login_rate_limit_per_minute: int = Field(default=60, gt=0)
    # Media reads: a player fetches a segment every few seconds per rendition, and many more when seeking,
    # scrubbing the storyboard or several viewers share one address.
    edge_media_rate_limit_per_minute: int = Field(default=6000, gt=0)

    # Identity. A local RS256 issuer by default; point the JWKS URL at Cognito to trust its tokens instead.
    jwt_issuer: str = "videoforge"
    jwt_audience: str = "videoforge"
    jwt_private_key_file: Path | None = None
    jwt_jwks_url: str = ""
    jwt_role_claim: str = "role"
    # Password hashes computed at once (each ~64 MiB and tens of ms of CPU); 0: half the cores.
    password_hash_concurrency: int = Field(default=0, ge=0)
    access_token_seconds: int = 900
    refresh_token_days: int = 30

    # Signed media URLs (CloudFront format). The edge checks them locally; CloudFront does in AWS.
    cdn_base_url: str = ""  # empty: the edge's /media
    cdn_key_pair_id: str = "videoforge-local"
    cdn_private_key_file: Path | None = None
    signed_url_seconds: int = 3600
    # Protected videos' content keys are stored sealed (AES-256-GCM) with this secret: a file of 32 random bytes.
    # Without it no job may ask for protection; `up` makes one in the data directory.
    content_key_secret_file: Path | None = None

    # Uploads and media limits.
    max_upload_bytes: int = 10 * 1024**3
    # Up to here an upload is one PUT unless the client asks for parts: S3's own single-PUT limit.
    multipart_threshold_bytes: int = Field(default=5 * 1024**3, gt=0, le=5 * 1024**3)
    multipart_part_bytes: int = Field(default=16 * 1024**2, ge=5 * 1024**2)
    # Upload URLs are short-lived: a leaked one is useless within minutes.
    upload_url_seconds: int = Field(default=900, gt=0, le=900)
    # Bytes of uploaded originals one user may keep (confirmed or still pending).
    user_storage_quota_bytes: int = Field(default=100 * 1024**3, gt=0)
    # Uploads not confirmed this long after their URL was given, and multipart uploads open this long, are
    # removed by the gallery's sweep, which runs every upload_sweep_seconds (0: never; `admin reconcile` still does).
    upload_abandon_seconds: float = Field(default=24 * 3600, gt=0)
    upload_sweep_seconds: float = Field(default=3600, ge=0)
    # Probes at once per transcoder replica; a confirm that waits longer than probe_queue_seconds for a slot is
    # answered UNAVAILABLE and tried again by the client.
    probe_concurrency: int = Field(default=4, gt=0)
    probe_queue_seconds: float = Field(default=1.0, ge=0)
    default_formats: list[str] = Field(default_factory=list)
    auto_transcode: bool = True
    max_duration_seconds: float = 4 * 3600
    max_pixels: int = 8192 * 4320
    # Address space each FFmpeg process may take (the kernel refuses more): a 4K ladder needs a few GiB.
    media_memory_bytes: int = Field(default=16 * 1024**3, gt=0)
    encoder_preset: str = "veryfast"
    # The per-title ladder: a short analysis finds the bits each rung of this source needs to reach the target SSIM
    # (dB, at the rung's own size), never more than the fixed ladder gives it. Off: every source gets the fixed ladder.
    per_title_ladder: bool = True
    per_title_target_ssim_db: float = Field(default=22.0, gt=0, le=60)
    # Sources at least this long are encoded in chunks of about chunk_seconds (whole GOPs) that any worker claims
    # from the queue, then joined and packaged once (0: never). Below it splitting and joining cost more than
    # sharing saves: with 60 s chunks two workers finish sooner from 90 s on (bench/chunk_sim.py, measured costs).
    chunked_min_source_seconds: float = Field(default=90.0, ge=0)
    chunk_seconds: float = Field(default=60.0, ge=2)
    # Every audio track of a source becomes a stereo AAC rendition; on, a track with 5.1 or more channels also gets a
    # 5.1 AAC rendition.
    audio_surround: bool = False
    # EBU R128 two-pass loudness normalisation of every audio rendition to -16 LUFS, true peaks at most -1 dBTP.
    # Off: the audio keeps the source's loudness (both are still measured for the video's details).
    loudness_normalization: bool = True

    # Requests to user-given URLs (import from a URL) reach only public addresses over https. Hosts named here
    # (`host:port`, comma-separated or a JSON list) are exempt, plain http included: a test server or a private
    # deployment's media host.
    outbound_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Webhook deliveries that fail are tried again after base * 2^(attempts - 1) seconds (at most an hour
    # apart) until they are this many hours old.
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_hours: float = Field(default=24.0, gt=0)
    # How often the job service records the queue's depth for the admin page's chart.
    queue_sample_seconds: float = Field(default=60.0, gt=0)

    # Live job watches (WatchJob): streams one user may hold open at once, and how long one lasts before it ends
    # cleanly and the client resumes (so no stream pins a replica or a connection forever).
    watch_streams_per_user: int = Field(default=10, gt=0)
    watch_stream_max_seconds: float = Field(default=600.0, gt=0)

    # Observability. Each process serves Prometheus metrics at http://METRICS_HOST:METRICS_PORT/metrics (0: none;
    # `videoforge up` gives each of its processes a port of its own). Traces go over OTLP when
    # OTEL_EXPORTER_OTLP_ENDPOINT is set, and as JSON lines to traces_file when it is set.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    traces_file: Path | None = None
    otel_exporter_otlp_endpoint: str = ""  # an OpenTelemetry Collector's OTLP/gRPC address, e.g. http://collector:4317

    log_level: str = "INFO"

    @field_validator("edge_trusted_proxy_cidrs")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            ipaddress.ip_network(cidr, strict=False)  # a ValueError names the bad entry
        return cidrs

    @field_validator("outbound_allowed_hosts", mode="before")
    @classmethod
    def _host_ports(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [e.strip() for e in text.split(",") if e.strip()]
        if isinstance(value, list):
            for entry in value:
                parse_host_port(str(entry))  # a ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _one_way_to_trust_proxies(self) -> Settings:
        if self.edge_trusted_proxy_cidrs and self.edge_trusted_proxy_hops:
            raise ValueError("set EDGE_TRUSTED_PROXY_CIDRS or EDGE_TRUSTED_PROXY_HOPS, not both")
        return self

    @model_validator(mode="after")
    def _whole_edge_tls(self) -> Settings:
        if (self.edge_tls_cert_file is None) != (self.edge_tls_key_file is None):
            raise ValueError("set both EDGE_TLS_CERT_FILE and EDGE_TLS_KEY_FILE, or neither")
        if self.edge_http_redirect_port and not self.edge_tls:
            raise ValueError("EDGE_HTTP_REDIRECT_PORT redirects to HTTPS: set EDGE_TLS_CERT_FILE and EDGE_TLS_KEY_FILE")
        return self

    @model_validator(mode="after")
    def _whole_mesh_identity(self) -> Settings:
        files = (self.mesh_ca_file, self.mesh_cert_file, self.mesh_key_file)
        if any(files) and not all(files):
            raise ValueError("set MESH_CA_FILE, MESH_CERT_FILE and MESH_KEY_FILE together")
        return self

    @property
    def edge_tls(self) -> bool:
        return self.edge_tls_cert_file is not None

    @cached_property
    def edge_url(self) -> str:
        scheme = "https" if self.edge_tls else "http"
        return self.public_url or f"{scheme}://{self.edge_host}:{self.edge_port}"

    @cached_property
    def media_base_url(self) -> str:
        return self.cdn_base_url or f"{self.edge_url}/media"
