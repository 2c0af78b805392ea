"""stories: story_id on articles, the stories and story_keys tables, story counts in series

Existing series rows get story counts equal to their article counts (each stored article is
taken as its own story), so detection on stories has its history from the first minute.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("story_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_articles_story_id", ["story_id"], unique=False)
    op.create_table(
        "stories",
        sa.Column("story_id", sa.String(length=64), nullable=False),
        sa.Column("first_seen", pipeline.store.types.UTCDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        *(sa.Column(f"band{i}", sa.Integer(), nullable=False) for i in range(8)),
        sa.PrimaryKeyConstraint("story_id", name=op.f("pk_stories")),
    )
    op.create_index("ix_stories_first_seen", "stories", ["first_seen"], unique=False)
    for i in range(8):
        op.create_index(f"ix_stories_band{i}", "stories", [f"band{i}"], unique=False)
    op.create_table(
        "story_keys",
        sa.Column("story_id", sa.String(length=64), nullable=False),
        sa.Column("series_key", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("story_id", "series_key", name=op.f("pk_story_keys")),
    )
    with op.batch_alter_table("sentiment_series") as batch:
        for name in ("s_n", "s_neg", "s_neu", "s_pos"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE sentiment_series SET s_n = n, s_neg = n_neg, s_neu = n_neu, s_pos = n_pos")


def downgrade() -> None:
    with op.batch_alter_table("sentiment_series") as batch:
        for name in ("s_pos", "s_neu", "s_neg", "s_n"):
            batch.drop_column(name)
    op.drop_table("story_keys")
    for i in range(8):
        op.drop_index(f"ix_stories_band{i}", table_name="stories")
    op.drop_index("ix_stories_first_seen", table_name="stories")
    op.drop_table("stories")
    with op.batch_alter_table("articles") as batch:
        batch.drop_index("ix_articles_story_id")
        batch.drop_column("story_id")
