"""Outreach: channels, consent (blocks, contact log, policies, reminders) and broadcasts.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 05:25:58.730176
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import liveloop.core.database

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outreach_channels",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("rate_per_second", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
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
            name=op.f("fk_outreach_channels_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_channels")),
    )
    with op.batch_alter_table("outreach_channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outreach_channels_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index("ix_outreach_channels_shop_kind", ["shop_id", "kind"], unique=False)

    op.create_table(
        "outreach_contact_log",
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel_key", sa.String(length=24), nullable=False),
        sa.Column("at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_outreach_contact_log_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_contact_log")),
    )
    with op.batch_alter_table("outreach_contact_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outreach_contact_log_lookup",
            ["shop_id", "channel_key", "customer_id", "at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_outreach_contact_log_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "outreach_contact_policies",
        sa.Column(
            "caps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("reminder_early_minutes", sa.Integer(), nullable=True),
        sa.Column("reminders_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "reminder_templates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
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
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_outreach_contact_policies_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_contact_policies")),
        sa.UniqueConstraint("shop_id", name="uq_outreach_contact_policies_shop"),
    )
    with op.batch_alter_table("outreach_contact_policies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outreach_contact_policies_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "outreach_reminders",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_outreach_reminders_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_reminders")),
        sa.UniqueConstraint("kind", "ref_id", name="uq_outreach_reminders_kind_ref"),
    )
    with op.batch_alter_table("outreach_reminders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outreach_reminders_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_outreach_reminders_shop_at", ["shop_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outreach_reminders_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "outreach_contact_blocks",
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel_key", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
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
            name=op.f("fk_outreach_contact_blocks_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_outreach_contact_blocks_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_contact_blocks")),
        sa.UniqueConstraint("shop_id", "customer_id", "channel_key", name="uq_outreach_blocks_key"),
    )
    with op.batch_alter_table("outreach_contact_blocks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outreach_contact_blocks_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_outreach_contact_blocks_shop_created", ["shop_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outreach_contact_blocks_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "outreach_broadcasts",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "live_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "audience",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "variants",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("coupon_code", sa.String(length=64), nullable=True),
        sa.Column("scheduled_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
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
            ["created_by"],
            ["staff.id"],
            name=op.f("fk_outreach_broadcasts_created_by_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_outreach_broadcasts_live_session_id_live_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_outreach_broadcasts_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_broadcasts")),
    )
    with op.batch_alter_table("outreach_broadcasts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outreach_broadcasts_shop_id"), ["shop_id"], unique=False
        )
        batch_op.create_index(
            "ix_outreach_broadcasts_shop_status", ["shop_id", "status"], unique=False
        )

    op.create_table(
        "outreach_broadcast_recipients",
        sa.Column(
            "broadcast_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("variant", sa.String(length=24), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("send_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("click_token", sa.String(length=24), nullable=False),
        sa.Column("provider_message_id", sa.String(length=120), nullable=True),
        sa.Column("queued_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["outreach_broadcasts.id"],
            name=op.f("fk_outreach_broadcast_recipients_broadcast_id_outreach_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_outreach_broadcast_recipients_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_outreach_broadcast_recipients_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_broadcast_recipients")),
        sa.UniqueConstraint("broadcast_id", "customer_id", "channel_id", name="uq_bc_recipient"),
        sa.UniqueConstraint(
            "click_token", name=op.f("uq_outreach_broadcast_recipients_click_token")
        ),
    )
    with op.batch_alter_table("outreach_broadcast_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bc_recipients_claim", ["broadcast_id", "status", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outreach_broadcast_recipients_shop_id"), ["shop_id"], unique=False
        )

    op.create_table(
        "outreach_broadcast_clicks",
        sa.Column(
            "broadcast_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "recipient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("variant", sa.String(length=24), nullable=True),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("at", liveloop.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["outreach_broadcasts.id"],
            name=op.f("fk_outreach_broadcast_clicks_broadcast_id_outreach_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["outreach_broadcast_recipients.id"],
            name=op.f("fk_outreach_broadcast_clicks_recipient_id_outreach_broadcast_recipients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_outreach_broadcast_clicks_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_broadcast_clicks")),
    )
    with op.batch_alter_table("outreach_broadcast_clicks", schema=None) as batch_op:
        batch_op.create_index("ix_bc_clicks_broadcast", ["broadcast_id", "variant"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outreach_broadcast_clicks_shop_id"), ["shop_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outreach_broadcast_clicks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_broadcast_clicks_shop_id"))
        batch_op.drop_index("ix_bc_clicks_broadcast")

    op.drop_table("outreach_broadcast_clicks")
    with op.batch_alter_table("outreach_broadcast_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_broadcast_recipients_shop_id"))
        batch_op.drop_index("ix_bc_recipients_claim")

    op.drop_table("outreach_broadcast_recipients")
    with op.batch_alter_table("outreach_broadcasts", schema=None) as batch_op:
        batch_op.drop_index("ix_outreach_broadcasts_shop_status")
        batch_op.drop_index(batch_op.f("ix_outreach_broadcasts_shop_id"))

    op.drop_table("outreach_broadcasts")
    with op.batch_alter_table("outreach_contact_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_contact_blocks_shop_id"))
        batch_op.drop_index("ix_outreach_contact_blocks_shop_created")
        batch_op.drop_index(batch_op.f("ix_outreach_contact_blocks_customer_id"))

    op.drop_table("outreach_contact_blocks")
    with op.batch_alter_table("outreach_reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_reminders_shop_id"))
        batch_op.drop_index("ix_outreach_reminders_shop_at")
        batch_op.drop_index(batch_op.f("ix_outreach_reminders_customer_id"))

    op.drop_table("outreach_reminders")
    with op.batch_alter_table("outreach_contact_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_contact_policies_shop_id"))

    op.drop_table("outreach_contact_policies")
    with op.batch_alter_table("outreach_contact_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_contact_log_shop_id"))
        batch_op.drop_index("ix_outreach_contact_log_lookup")

    op.drop_table("outreach_contact_log")
    with op.batch_alter_table("outreach_channels", schema=None) as batch_op:
        batch_op.drop_index("ix_outreach_channels_shop_kind")
        batch_op.drop_index(batch_op.f("ix_outreach_channels_shop_id"))

    op.drop_table("outreach_channels")
