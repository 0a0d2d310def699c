"""Referral fission: campaigns, participants, invites, rewards.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import liveloop.core.database

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fission_campaigns",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("goal", sa.String(length=8), nullable=False),
        sa.Column("invitees_needed", sa.Integer(), nullable=False),
        sa.Column("reward_kind", sa.String(length=16), nullable=False),
        sa.Column(
            "reward_coupon_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reward_points", sa.Integer(), nullable=True),
        sa.Column(
            "reward_product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reward_title", sa.String(length=100), nullable=False),
        sa.Column("reward_stock", sa.Integer(), nullable=True),
        sa.Column("rewards_given", sa.Integer(), nullable=False),
        sa.Column("starts_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "poster",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "invitees_needed > 0", name=op.f("ck_fission_campaigns_invitees_needed_positive")
        ),
        sa.CheckConstraint(
            "reward_stock IS NULL OR rewards_given <= reward_stock",
            name=op.f("ck_fission_campaigns_rewards_within_stock"),
        ),
        sa.CheckConstraint(
            "rewards_given >= 0", name=op.f("ck_fission_campaigns_rewards_given_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_fission_campaigns_community_id_communities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reward_product_id"],
            ["products.id"],
            name=op.f("fk_fission_campaigns_reward_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_fission_campaigns_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fission_campaigns")),
        sa.UniqueConstraint("code", name=op.f("uq_fission_campaigns_code")),
    )
    with op.batch_alter_table("fission_campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fission_campaigns_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(
            "ix_fission_campaigns_shop_status", ["shop_id", "status", "id"], unique=False
        )

    op.create_table(
        "fission_participants",
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=50), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("phone_key", sa.String(length=128), nullable=True),
        sa.Column("link_opens", sa.Integer(), nullable=False),
        sa.Column("invitee_count", sa.Integer(), nullable=False),
        sa.Column("counted_count", sa.Integer(), nullable=False),
        sa.Column("reached_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["fission_campaigns.id"],
            name=op.f("fk_fission_participants_campaign_id_fission_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_fission_participants_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_fission_participants_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fission_participants")),
        sa.UniqueConstraint(
            "campaign_id",
            "customer_id",
            name=op.f("uq_fission_participants_campaign_id_customer_id"),
        ),
        sa.UniqueConstraint("code", name=op.f("uq_fission_participants_code")),
    )
    with op.batch_alter_table("fission_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fission_participants_board", ["campaign_id", "counted_count"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_fission_participants_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "fission_invites",
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "inviter_customer_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "invitee_customer_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("phone_key", sa.String(length=128), nullable=True),
        sa.Column("invitee_was_new", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["fission_campaigns.id"],
            name=op.f("fk_fission_invites_campaign_id_fission_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invitee_customer_id"],
            ["customers.id"],
            name=op.f("fk_fission_invites_invitee_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inviter_customer_id"],
            ["customers.id"],
            name=op.f("fk_fission_invites_inviter_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["fission_participants.id"],
            name=op.f("fk_fission_invites_participant_id_fission_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_fission_invites_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fission_invites")),
    )
    with op.batch_alter_table("fission_invites", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fission_invites_participant", ["participant_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fission_invites_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(
            "ix_fission_invites_shop_invitee",
            ["shop_id", "invitee_customer_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            "uq_fission_invites_live_invitee",
            ["campaign_id", "invitee_customer_id"],
            unique=True,
            sqlite_where=sa.text("status != 'rejected'"),
            postgresql_where=sa.text("status != 'rejected'"),
        )

    op.create_table(
        "fission_rewards",
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "customer_coupon_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "address_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["fission_campaigns.id"],
            name=op.f("fk_fission_rewards_campaign_id_fission_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_fission_rewards_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["fission_participants.id"],
            name=op.f("fk_fission_rewards_participant_id_fission_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_fission_rewards_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fission_rewards")),
        sa.UniqueConstraint(
            "campaign_id",
            "participant_id",
            name=op.f("uq_fission_rewards_campaign_id_participant_id"),
        ),
    )
    with op.batch_alter_table("fission_rewards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fission_rewards_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(
            "ix_fission_rewards_shop_status", ["shop_id", "status", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fission_rewards", schema=None) as batch_op:
        batch_op.drop_index("ix_fission_rewards_shop_status")
        batch_op.drop_index(batch_op.f("ix_fission_rewards_shop_id"))

    op.drop_table("fission_rewards")
    with op.batch_alter_table("fission_invites", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_fission_invites_live_invitee",
            sqlite_where=sa.text("status != 'rejected'"),
            postgresql_where=sa.text("status != 'rejected'"),
        )
        batch_op.drop_index("ix_fission_invites_shop_invitee")
        batch_op.drop_index(batch_op.f("ix_fission_invites_shop_id"))
        batch_op.drop_index("ix_fission_invites_participant")

    op.drop_table("fission_invites")
    with op.batch_alter_table("fission_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fission_participants_shop_id"))
        batch_op.drop_index("ix_fission_participants_board")

    op.drop_table("fission_participants")
    with op.batch_alter_table("fission_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_fission_campaigns_shop_status")
        batch_op.drop_index(batch_op.f("ix_fission_campaigns_shop_id"))

    op.drop_table("fission_campaigns")
