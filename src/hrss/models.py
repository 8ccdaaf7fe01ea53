"""Every store table, imported in one place so that Base.metadata knows them all."""

from hrss.audit.tables import AuditEvent, AuditHead
from hrss.auth.tables import ApiToken, User, WebSession
from hrss.monitoring.ledger_tables import CommitmentNote
from hrss.monitoring.tables import ImportBatch, PendingValue, Submission, ValueRecord
from hrss.plan.tables import (
    CommitmentRecord,
    IndicatorRecord,
    OrgUnitRecord,
    PlanRecord,
    TargetRecord,
)

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "CommitmentNote",
    "CommitmentRecord",
    "ImportBatch",
    "Submission",
    "IndicatorRecord",
    "OrgUnitRecord",
    "PendingValue",
    "PlanRecord",
    "TargetRecord",
    "User",
    "ValueRecord",
    "WebSession",
]
