"""Titles sort without regard to accents, and numbers in them by value.

``sort_title`` held the casefolded title, so "Ça Ira" sorted after "Zulu" and "Album 10" before
"Album 2". A sync rewrites only items that changed, so the keys already stored are recomputed
here, from the stored key itself (it is the casefolded sort title the server gave).

The function is copied, not imported: a migration must keep doing what it did when it was written.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_DIGITS = re.compile(r"\d+")
BATCH = 5000


def _sort_key(title: str) -> str:
    if not title.isascii():
        decomposed = unicodedata.normalize("NFKD", title)
        title = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _DIGITS.sub(lambda digits: digits.group().rjust(10, "0"), title.casefold())


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, sort_title FROM items")).all()
    changed = [
        {"id": row.id, "key": key} for row in rows if (key := _sort_key(row.sort_title)) != row.sort_title
    ]
    for start in range(0, len(changed), BATCH):
        conn.execute(
            sa.text("UPDATE items SET sort_title = :key WHERE id = :id"), changed[start : start + BATCH]
        )


def downgrade() -> None:
    # The unpadded, accented keys cannot be recovered from the new ones; the next full sync of a
    # source rewrites its items' keys only if they changed, so downgrading leaves the new keys.
    pass
