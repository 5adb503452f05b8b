"""The job schema's tables."""

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, text
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
    Column("video_synced", Boolean, nullable=False, server_default=text("true")),
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

# The output set each video plays from; switched in the same transaction that completes a job.
publications = Table(
    "publications",
    metadata,
    Column("video_id", String(32), primary_key=True),
    Column("job_id", String(32), nullable=False),
)
