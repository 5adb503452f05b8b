"""The job schema's tables."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="job")

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("video_id", String(32), nullable=False),
    Column("owner_id", String(32), nullable=False),
    Column("input_source", String(300), nullable=False),
    Column("output_formats", JSONB, nullable=False),
    Column("state", String(16), nullable=False),
    Column("progress", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("media", JSONB, nullable=False),
    Column("error", JSONB, nullable=True),
    Column("renditions", JSONB, nullable=False),
    Column("output_prefix", String(300), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=True),
    Column("end_time", DateTime(timezone=True), nullable=True),
    Column("delivery_token", String(64), nullable=False, server_default=""),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("run", Integer, nullable=False, server_default=text("0")),
    Column("request_id", String(64), nullable=False, server_default=""),
    Column("source_url", Text, nullable=False, server_default=""),
    Column("codecs", JSONB, nullable=False, server_default='["h264"]'),
    Column("protection", String(16), nullable=False, server_default=""),
    Column("loudness", JSONB, nullable=True),
    Index("jobs_owner_idx", "owner_id", "create_time"),
    Index("jobs_video_idx", "video_id"),
    Index("jobs_state_idx", "state", "end_time"),
)

assets = Table(
    "assets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("job_id", String(32), nullable=False, index=True),
    Column("video_id", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("quality", String(16), nullable=False),
    Column("key", String(400), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
)

# One content key per protected video, sealed with the platform's key: the database alone does not decrypt.
content_keys = Table(
    "content_keys",
    metadata,
    Column("video_id", String(32), primary_key=True),
    Column("key_id", LargeBinary, nullable=False),
    Column("sealed_key", LargeBinary, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

# The output set each video plays from; switched in the same transaction that completes a job.
publications = Table(
    "publications",
    metadata,
    Column("video_id", String(32), primary_key=True),
    Column("job_id", String(32), nullable=False),
)

# Each video's event counter: its row lock orders a video's events, so versions grow in commit order.
video_versions = Table(
    "video_versions",
    metadata,
    Column("video_id", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# Job state changes for the gallery, written in the transaction of the change and deleted once acknowledged.
events = Table(
    "events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("video_id", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
