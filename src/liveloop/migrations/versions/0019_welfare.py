"""Live room follow for welfare (关注送福利): offers and viewers' claims.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import liveloop.core.database

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_welfare_offers",
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("popup_text", sa.String(length=100), nullable=False),
        sa.Column("reward_kind", sa.String(length=16), nullable=False),
        sa.Column("reward_name", sa.String(length=100), nullable=False),
        sa.Column(
            "reward_coupon_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reward_points", sa.Integer(), nullable=False),
        sa.Column("new_members_only", sa.Boolean(), nullable=False),
        sa.Column("confirm_by", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("running_room_key", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
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
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_live_welfare_offers_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff.id"],
            name=op.f("fk_live_welfare_offers_created_by_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_welfare_offers_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reward_coupon_id"],
            ["coupons.id"],
            name=op.f("fk_live_welfare_offers_reward_coupon_id_coupons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_welfare_offers_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_welfare_offers")),
        sa.UniqueConstraint("running_room_key", name="uq_live_welfare_offers_running_room"),
    )
    with op.batch_alter_table("live_welfare_offers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_live_welfare_offers_community", ["shop_id", "community_id"], unique=False
        )
        batch_op.create_index(
            "ix_live_welfare_offers_session", ["shop_id", "live_session_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_live_welfare_offers_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "live_welfare_claims",
        sa.Column("offer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("viewer_key", sa.String(length=80), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("shown_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tapped_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("joined_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("settled_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rewarded_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("confirmed_via", sa.String(length=16), nullable=True),
        sa.Column("reward_note", sa.String(length=200), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_live_welfare_claims_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["community_members.id"],
            name=op.f("fk_live_welfare_claims_member_id_community_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["live_welfare_offers.id"],
            name=op.f("fk_live_welfare_claims_offer_id_live_welfare_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_live_welfare_claims_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_welfare_claims")),
        sa.UniqueConstraint(
            "offer_id", "customer_id", name=op.f("uq_live_welfare_claims_offer_id_customer_id")
        ),
        sa.UniqueConstraint(
            "offer_id", "viewer_key", name=op.f("uq_live_welfare_claims_offer_id_viewer_key")
        ),
    )
    with op.batch_alter_table("live_welfare_claims", schema=None) as batch_op:
        batch_op.create_index(
            "ix_live_welfare_claims_customer", ["shop_id", "customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_live_welfare_claims_offer_id"), ["offer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_live_welfare_claims_shop_id"), ["shop_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("live_welfare_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_welfare_claims_shop_id"))
        batch_op.drop_index(batch_op.f("ix_live_welfare_claims_offer_id"))
        batch_op.drop_index("ix_live_welfare_claims_customer")

    op.drop_table("live_welfare_claims")
    with op.batch_alter_table("live_welfare_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_welfare_offers_shop_id"))
        batch_op.drop_index("ix_live_welfare_offers_session")
        batch_op.drop_index("ix_live_welfare_offers_community")

    op.drop_table("live_welfare_offers")
