"""Delivery messages keep the link's public id, not its token

A message no longer stores its bodies (subject, text, HTML), which carried the customer's link,
a bearer secret, until retention emptied them. It points at its capture request (and so at the
link's public id) and keeps only ``sealed_link``: the link's token encrypted with the data
keyring while the message may still be sent; the worker renders the message only to send it
(``portal.delivery.sealed_link``).

Rows already there: a message that is final (sent, failed, cancelled) simply loses its bodies.
One still waiting to be sent (queued, sending) has the token read from its text body and sealed
with the newest data key, so it still sends; if its body holds no customer link it is cancelled
with a plain reason. Sealing needs ``DATA_ENCRYPTION_KEYS`` only when such messages exist.

Downgrade brings the columns back empty: bodies cannot be rebuilt here, so messages still
waiting are cancelled (the agent can resend the link).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 18:30:00

"""

import base64
import os
import re

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from config.keyring import parse_keyring

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ONLY_THIS_TABLE = {"resolve_fks": False}
_WAITING = ("queued", "sending")
#: The customer link in a text body, on a line of its own: ``<PUBLIC_BASE_URL>/c/<token>``.
_TOKEN_IN_BODY = re.compile(r"/c/([A-Za-z0-9_.\-]{1,200})[ \t]*$", re.MULTILINE)
_NO_LINK_WORDS = "Not sent: this message had no link to send. Send a new link from the request."
_DOWNGRADE_WORDS = "Not sent: the outbox was changed before it could be sent. Send a new link."

messages = sa.table(
    "delivery_messages",
    sa.column("id", sa.Integer),
    sa.column("capture_request_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("text_body", sa.Text),
    sa.column("sealed_link", sa.String),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.column("last_error", sa.String),
    sa.column("last_error_code", sa.String),
)


def _sealer():
    """Seal as ``portal.delivery.sealed_link.seal_token`` does, at this revision: AES-256-GCM
    under the newest data key, 12-byte nonce, associated data
    ``postern-data-v1:<request id>:delivery_message:<message id>:link:<key id>``."""
    keyring = parse_keyring(current_app.config.get("DATA_ENCRYPTION_KEYS"))

    def seal(capture_request_id: int, message_id: int, token: str) -> str:
        key_id = keyring.newest_id
        aad = f"postern-data-v1:{int(capture_request_id)}:delivery_message:{int(message_id)}"
        aad += f":link:{key_id}"
        nonce = os.urandom(12)
        sealed = AESGCM(keyring.newest_key).encrypt(nonce, token.encode(), aad.encode())
        return f"{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    return seal


def upgrade():
    with op.batch_alter_table("delivery_messages", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("sealed_link", sa.String(length=400), nullable=True))

    connection = op.get_bind()
    waiting = connection.execute(
        sa.select(messages.c.id, messages.c.capture_request_id, messages.c.text_body).where(
            messages.c.status.in_(_WAITING)
        )
    ).all()
    seal = _sealer() if waiting else None
    for row in waiting:
        found = _TOKEN_IN_BODY.search(row.text_body or "")
        if found:
            values = {"sealed_link": seal(row.capture_request_id, row.id, found.group(1))}
        else:
            values = {
                "status": "cancelled",
                "next_attempt_at": None,
                "last_error": _NO_LINK_WORDS,
                "last_error_code": "no_link",
            }
        connection.execute(messages.update().where(messages.c.id == row.id).values(**values))

    with op.batch_alter_table("delivery_messages", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_column("html_body")
        batch_op.drop_column("text_body")
        batch_op.drop_column("subject")


def downgrade():
    with op.batch_alter_table("delivery_messages", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("text_body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("html_body", sa.Text(), nullable=True))
    op.get_bind().execute(
        messages.update()
        .where(messages.c.status.in_(_WAITING))
        .values(
            status="cancelled",
            next_attempt_at=None,
            last_error=_DOWNGRADE_WORDS,
            last_error_code="outbox_changed",
        )
    )
    with op.batch_alter_table("delivery_messages", reflect_kwargs=_ONLY_THIS_TABLE) as batch_op:
        batch_op.drop_column("sealed_link")
