"""Analytics: the costs a merchant enters for ROI and LTV (value figures).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 05:25:58.730176
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import liveloop.core.database

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_value_costs",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("spent_on", sa.Date(), nullable=False),
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("broadcast_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "affiliate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"],
            ["affiliates.id"],
            name=op.f("fk_analytics_value_costs_affiliate_id_affiliates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_analytics_value_costs_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_analytics_value_costs_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_value_costs")),
    )
    with op.batch_alter_table("analytics_value_costs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_value_costs_live_session_id"),
            ["live_session_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_analytics_value_costs_shop_id"), ["shop_id"], unique=False
        )
        batch_op.create_index(
            "ix_analytics_value_costs_shop_spent", ["shop_id", "spent_on"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("analytics_value_costs", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_value_costs_shop_spent")
        batch_op.drop_index(batch_op.f("ix_analytics_value_costs_shop_id"))
        batch_op.drop_index(batch_op.f("ix_analytics_value_costs_live_session_id"))

    op.drop_table("analytics_value_costs")
