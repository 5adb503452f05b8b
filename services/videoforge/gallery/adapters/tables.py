"""The gallery schema's tables."""

from sqlalchemy import BigInteger, Column, Computed, DateTime, Index, MetaData, String, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

metadata = MetaData(schema="gallery")

SEARCH_DOCUMENT = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))"

videos = Table(
    "videos",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("source_key", String(300), nullable=False),
    Column("media", JSONB, nullable=False),
    Column("view_count", BigInteger, nullable=False, server_default=text("0")),
    Column("latest_job", JSONB, nullable=False),
    Column("published_job_id", String(32), nullable=False, server_default=""),
    Column("extra", JSONB, nullable=False),
    Column("job_version", BigInteger, nullable=False, server_default=text("0")),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("search", TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True)),
    Index("videos_search_idx", "search", postgresql_using="gin"),
    Index("videos_public_recent_idx", text("create_time DESC"), "id", postgresql_where=text("visibility = 'public'")),
    Index(
        "videos_public_views_idx",
        text("view_count DESC"),
        text("create_time DESC"),
        postgresql_where=text("visibility = 'public'"),
    ),
    Index("videos_owner_idx", "owner_id", text("create_time DESC")),
)

uploads = Table(
    "uploads",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("owner_id", String(32), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("multipart_upload_id", String(300), nullable=False, server_default=""),
    Column("video_id", String(32), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    # The storage quota sums one user's uploads on every new upload.
    Index("uploads_owner_idx", "owner_id"),
)
