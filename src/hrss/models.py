"""Every store table, imported in one place so that Base.metadata knows them all."""

from hrss.monitoring.tables import ImportBatch, ValueRecord
from hrss.plan.tables import (
    CommitmentRecord,
    IndicatorRecord,
    OrgUnitRecord,
    PlanRecord,
    TargetRecord,
)

__all__ = [
    "CommitmentRecord",
    "ImportBatch",
    "IndicatorRecord",
    "OrgUnitRecord",
    "PlanRecord",
    "TargetRecord",
    "ValueRecord",
]
