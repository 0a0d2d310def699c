"""Post-live reports: one stored report per live session.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 10:25:26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import liveloop.core.database

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_reports",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "generated_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("generation_ms", sa.Integer(), nullable=False),
        sa.Column("generations", sa.Integer(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_reports_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_reports_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_reports")),
        sa.UniqueConstraint("live_session_id", name=op.f("uq_live_reports_live_session_id")),
    )
    with op.batch_alter_table("live_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_live_reports_shop_id"), ["shop_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("live_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_reports_shop_id"))
    op.drop_table("live_reports")
