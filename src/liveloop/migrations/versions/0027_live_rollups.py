"""Rollups of live sessions' room events for the realtime dashboard, and an index of room entries

The rollups start empty: each session's are built from its events on the dashboard's first read
(analytics.realtime.rollups) and kept up to date by event ingestion from then on.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 20:49:56.238213
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import liveloop.core.database

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_rollup_comments",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("second", sa.BigInteger(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_rollup_comments_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_rollup_comments_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_session_id", "second", name=op.f("pk_live_rollup_comments")),
    )
    with op.batch_alter_table("live_rollup_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_rollup_comments_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "live_rollup_counts",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("likes", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_rollup_counts_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_rollup_counts_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "live_session_id", "kind", "product_id", name=op.f("pk_live_rollup_counts")
        ),
    )
    with op.batch_alter_table("live_rollup_counts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_rollup_counts_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "live_rollup_seconds",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("second", sa.BigInteger(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_rollup_seconds_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_rollup_seconds_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_session_id", "second", name=op.f("pk_live_rollup_seconds")),
    )
    with op.batch_alter_table("live_rollup_seconds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_rollup_seconds_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "live_rollup_source_viewers",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("viewer", sa.String(length=80), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_rollup_source_viewers_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_rollup_source_viewers_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "live_session_id",
            "dimension",
            "key",
            "viewer",
            name=op.f("pk_live_rollup_source_viewers"),
        ),
    )
    with op.batch_alter_table("live_rollup_source_viewers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_rollup_source_viewers_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "live_rollup_sources",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_rollup_sources_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_rollup_sources_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "live_session_id", "dimension", "key", name=op.f("pk_live_rollup_sources")
        ),
    )
    with op.batch_alter_table("live_rollup_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_rollup_sources_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "live_rollup_states",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("needs_rebuild", sa.Boolean(), nullable=False),
        sa.Column("starts_epoch", sa.BigInteger(), nullable=True),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("returning_viewers", sa.Integer(), nullable=False),
        sa.Column("rebuilt_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_rollup_states_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_rollup_states_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_session_id", name=op.f("pk_live_rollup_states")),
    )
    with op.batch_alter_table("live_rollup_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_rollup_states_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "live_rollup_viewers",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("viewer", sa.String(length=80), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("leaves", sa.Integer(), nullable=False),
        sa.Column("last_entry", sa.BigInteger(), nullable=True),
        sa.Column(
            "visits",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_returning", sa.Boolean(), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_rollup_viewers_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_rollup_viewers_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_session_id", "viewer", name=op.f("pk_live_rollup_viewers")),
    )
    with op.batch_alter_table("live_rollup_viewers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_rollup_viewers_shop_id"), ["shop_id"], unique=False
        )

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_shop_enters",
            ["shop_id", "customer_id", "anonymous_id", "occurred_at"],
            unique=False,
            postgresql_where=sa.text("type = 'live_enter'"),
            sqlite_where=sa.text("type = 'live_enter'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_events_shop_enters",
            postgresql_where=sa.text("type = 'live_enter'"),
            sqlite_where=sa.text("type = 'live_enter'"),
        )

    with op.batch_alter_table("live_rollup_viewers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_rollup_viewers_shop_id"))

    op.drop_table("live_rollup_viewers")
    with op.batch_alter_table("live_rollup_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_rollup_states_shop_id"))

    op.drop_table("live_rollup_states")
    with op.batch_alter_table("live_rollup_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_rollup_sources_shop_id"))

    op.drop_table("live_rollup_sources")
    with op.batch_alter_table("live_rollup_source_viewers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_rollup_source_viewers_shop_id"))

    op.drop_table("live_rollup_source_viewers")
    with op.batch_alter_table("live_rollup_seconds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_rollup_seconds_shop_id"))

    op.drop_table("live_rollup_seconds")
    with op.batch_alter_table("live_rollup_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_rollup_counts_shop_id"))

    op.drop_table("live_rollup_counts")
    with op.batch_alter_table("live_rollup_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_rollup_comments_shop_id"))

    op.drop_table("live_rollup_comments")
