"""login throttle

`login_throttle` counts failed sign-ins per (sha256 of the user name as typed, client
address) and holds the growing delay before that pair may try again; it replaces the
account lock-out (`app_user.failed_attempts` and `locked_until` stay, unused).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_digest', sa.String(length=64), nullable=False),
    sa.Column('client_addr', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(), nullable=True),
    sa.Column('last_failed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_throttle')),
    sa.UniqueConstraint('key_digest', 'client_addr', name=op.f('uq_login_throttle_key_digest'))
    )
    op.create_index(op.f('ix_login_throttle_last_failed_at'), 'login_throttle', ['last_failed_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_login_throttle_last_failed_at'), table_name='login_throttle')
    op.drop_table('login_throttle')
