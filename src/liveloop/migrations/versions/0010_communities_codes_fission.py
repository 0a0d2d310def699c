"""Community extras, channel codes and fission.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 08:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import liveloop.core.database

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wecom_callback_settings",
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("aes_key_secret", sa.LargeBinary(), nullable=False),
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
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_wecom_callback_settings_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wecom_callback_settings")),
        sa.UniqueConstraint("shop_id", name=op.f("uq_wecom_callback_settings_shop_id")),
    )
    with op.batch_alter_table("wecom_callback_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wecom_callback_settings_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "channel_codes",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("routing", sa.String(length=16), nullable=False),
        sa.Column(
            "tag_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("welcome_message", sa.Text(), nullable=True),
        sa.Column("daily_limit", sa.Integer(), nullable=True),
        sa.Column(
            "community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("rr_cursor", sa.BigInteger(), nullable=False),
        sa.Column("archived_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
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
            name=op.f("fk_channel_codes_community_id_communities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_channel_codes_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_channel_codes_code")),
    )
    with op.batch_alter_table("channel_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_codes_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "community_promotion_rules",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "from_community_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "to_community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("min_paid_orders", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("leave_from", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
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
            ["from_community_id"],
            ["communities.id"],
            name=op.f("fk_community_promotion_rules_from_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_community_promotion_rules_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_community_id"],
            ["communities.id"],
            name=op.f("fk_community_promotion_rules_to_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_promotion_rules")),
    )
    with op.batch_alter_table("community_promotion_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_promotion_rules_from_community_id"),
            ["from_community_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_community_promotion_rules_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "channel_code_arrivals",
        sa.Column(
            "channel_code_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("via", sa.String(length=24), nullable=False),
        sa.Column("arrived_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_code_id"],
            ["channel_codes.id"],
            name=op.f("fk_channel_code_arrivals_channel_code_id_channel_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_channel_code_arrivals_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_channel_code_arrivals_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_channel_code_arrivals_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_code_arrivals")),
        sa.UniqueConstraint(
            "channel_code_id",
            "customer_id",
            name=op.f("uq_channel_code_arrivals_channel_code_id_customer_id"),
        ),
    )
    with op.batch_alter_table("channel_code_arrivals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_code_arrivals_channel_code_id"),
            ["channel_code_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_channel_code_arrivals_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "channel_code_counters",
        sa.Column(
            "channel_code_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("staff_link_id", sa.BigInteger(), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("arrivals", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_code_id"],
            ["channel_codes.id"],
            name=op.f("fk_channel_code_counters_channel_code_id_channel_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_channel_code_counters_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "channel_code_id", "day", "staff_link_id", name=op.f("pk_channel_code_counters")
        ),
    )
    with op.batch_alter_table("channel_code_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_code_counters_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "channel_code_staff",
        sa.Column(
            "channel_code_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contact_url", sa.Text(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column(
            "windows",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_backup", sa.Boolean(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_code_id"],
            ["channel_codes.id"],
            name=op.f("fk_channel_code_staff_channel_code_id_channel_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_channel_code_staff_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_channel_code_staff_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_code_staff")),
        sa.UniqueConstraint(
            "channel_code_id",
            "staff_id",
            name=op.f("uq_channel_code_staff_channel_code_id_staff_id"),
        ),
    )
    with op.batch_alter_table("channel_code_staff", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_code_staff_channel_code_id"), ["channel_code_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_channel_code_staff_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "community_promotions",
        sa.Column("rule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("promoted_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
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
            name=op.f("fk_community_promotions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["community_members.id"],
            name=op.f("fk_community_promotions_member_id_community_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["community_promotion_rules.id"],
            name=op.f("fk_community_promotions_rule_id_community_promotion_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_community_promotions_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_promotions")),
        sa.UniqueConstraint(
            "rule_id", "customer_id", name=op.f("uq_community_promotions_rule_id_customer_id")
        ),
    )
    with op.batch_alter_table("community_promotions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_promotions_shop_id"), ["shop_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("community_promotions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_promotions_shop_id"))

    op.drop_table("community_promotions")
    with op.batch_alter_table("channel_code_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_code_staff_shop_id"))
        batch_op.drop_index(batch_op.f("ix_channel_code_staff_channel_code_id"))

    op.drop_table("channel_code_staff")
    with op.batch_alter_table("channel_code_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_code_counters_shop_id"))

    op.drop_table("channel_code_counters")
    with op.batch_alter_table("channel_code_arrivals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_code_arrivals_shop_id"))
        batch_op.drop_index(batch_op.f("ix_channel_code_arrivals_channel_code_id"))

    op.drop_table("channel_code_arrivals")
    with op.batch_alter_table("community_promotion_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_promotion_rules_shop_id"))
        batch_op.drop_index(batch_op.f("ix_community_promotion_rules_from_community_id"))

    op.drop_table("community_promotion_rules")
    with op.batch_alter_table("channel_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_codes_shop_id"))

    op.drop_table("channel_codes")
    with op.batch_alter_table("wecom_callback_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wecom_callback_settings_shop_id"))

    op.drop_table("wecom_callback_settings")
