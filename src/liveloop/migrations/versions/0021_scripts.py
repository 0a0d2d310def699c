"""Script library (话术库): categories, entries and their jieba search words.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 12:44:04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import liveloop.core.database

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "script_categories",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
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
            name=op.f("fk_script_categories_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_categories")),
        sa.UniqueConstraint("shop_id", "name", name="uq_script_categories_name"),
    )
    with op.batch_alter_table("script_categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_script_categories_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "script_entries",
        sa.Column(
            "category_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "owner_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "keywords",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "images",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "links",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("last_used_at", liveloop.core.database.UTCDateTime(timezone=True), nullable=True),
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
            ["category_id"],
            ["script_categories.id"],
            name=op.f("fk_script_entries_category_id_script_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff.id"],
            name=op.f("fk_script_entries_created_by_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_staff_id"],
            ["staff.id"],
            name=op.f("fk_script_entries_owner_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_script_entries_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_entries")),
    )
    with op.batch_alter_table("script_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_script_entries_category_id"), ["category_id"], unique=False
        )
        batch_op.create_index(
            "ix_script_entries_owner", ["shop_id", "owner_staff_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_script_entries_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "script_entry_tokens",
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["script_entries.id"],
            name=op.f("fk_script_entry_tokens_entry_id_script_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_script_entry_tokens_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "token", name=op.f("pk_script_entry_tokens")),
    )
    with op.batch_alter_table("script_entry_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_script_entry_tokens_lookup", ["shop_id", "token"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_script_entry_tokens_shop_id"), ["shop_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("script_entry_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_script_entry_tokens_shop_id"))
        batch_op.drop_index("ix_script_entry_tokens_lookup")

    op.drop_table("script_entry_tokens")
    with op.batch_alter_table("script_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_script_entries_shop_id"))
        batch_op.drop_index("ix_script_entries_owner")
        batch_op.drop_index(batch_op.f("ix_script_entries_category_id"))

    op.drop_table("script_entries")
    with op.batch_alter_table("script_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_script_categories_shop_id"))

    op.drop_table("script_categories")
