"""pending values

Figures of drafts, submitted and returned submissions move out of `value` into
`submission_value` (本期待审值), so that a draft never changes what is counted. Approved
submissions keep a copy of their figures there; their rows in `value` stay.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('submission_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('indicator_code', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('numerator', sa.Float(), nullable=True),
    sa.Column('denominator', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_submission_value_submission_id_submission'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_value')),
    sa.UniqueConstraint('submission_id', 'indicator_code', name=op.f('uq_submission_value_submission_id'))
    )
    op.execute(
        "INSERT INTO submission_value (submission_id, indicator_code, value, numerator, denominator) "
        "SELECT submission_id, indicator_code, value, numerator, denominator FROM value WHERE submission_id IS NOT NULL"
    )
    op.execute(
        "DELETE FROM value WHERE submission_id IN (SELECT id FROM submission WHERE status <> 'approved')"
    )


def downgrade() -> None:
    # Pending figures have no place in the older schema: a downgrade drops them (the audit
    # trail keeps every saved draft's values).
    op.drop_table('submission_value')
