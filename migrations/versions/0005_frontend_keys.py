"""Item keys of API 1.1 that a graphical frontend shows: genres, ratings, ids, dates, artwork.

New item columns, all unknown (NULL) until a sync fills them: ``genres`` (a JSON array of
strings), ``content_rating``, ``studio``, ``original_title``, ``sort_name`` (the sort title the
server or file gives; ``sort_title`` keeps holding the key reeld sorts by), ``air_date`` (an ISO
8601 date), ``provider_ids`` (a JSON object: ``{"imdb": "tt…"}``), ``artist``, ``index_end`` (the
last episode of a multi-episode file) and ``artwork`` (a JSON object of the server's image tag or
path per kind: ``{"poster": …, "backdrop": …, "logo": …, "thumb": …}``).

A sync skips items whose etag it already holds, so the stored etags are cleared: the next sync
of each source writes every item once more, with the new keys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NEW_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[object]], ...] = (
    ("genres", sa.Text()),
    ("content_rating", sa.String()),
    ("studio", sa.String()),
    ("original_title", sa.String()),
    ("sort_name", sa.String()),
    ("air_date", sa.String()),
    ("provider_ids", sa.Text()),
    ("artist", sa.String()),
    ("index_end", sa.Integer()),
    ("artwork", sa.Text()),
)


def upgrade() -> None:
    for name, type_ in NEW_COLUMNS:
        op.add_column("items", sa.Column(name, type_))
    op.get_bind().execute(sa.text("UPDATE items SET etag = NULL"))


def downgrade() -> None:
    # SQLite drops a column in place (3.35+); none of these is indexed or in a trigger.
    for name, _ in reversed(NEW_COLUMNS):
        op.drop_column("items", name)
