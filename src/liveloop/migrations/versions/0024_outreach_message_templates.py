"""outreach_message_templates

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 08:24:59.515353
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import liveloop.core.database

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outreach_message_templates",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column(
            "parts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("marketing", sa.Boolean(), nullable=False),
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
            name=op.f("fk_outreach_message_templates_created_by_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_outreach_message_templates_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_message_templates")),
        sa.UniqueConstraint("shop_id", "name", name="uq_outreach_message_templates_name"),
    )
    with op.batch_alter_table("outreach_message_templates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outreach_message_templates_kind", ["shop_id", "kind", "purpose"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outreach_message_templates_shop_id"), ["shop_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outreach_message_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_message_templates_shop_id"))
        batch_op.drop_index("ix_outreach_message_templates_kind")

    op.drop_table("outreach_message_templates")
