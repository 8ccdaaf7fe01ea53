"""Load a plan into the store and read it back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from hrss.db import migrate, schema_lock, transaction
from hrss.plan.model import Plan
from hrss.plan.planfile import dump_plan, load_plan, plan_from_dict
from hrss.plan.tables import (
    CommitmentRecord,
    IndicatorRecord,
    OrgUnitRecord,
    PlanRecord,
    TargetRecord,
)


def save_plan(session: Session, plan: Plan) -> None:
    """Insert plan, or update it in place: its values and import batches are kept."""
    for table in (OrgUnitRecord, IndicatorRecord, TargetRecord, CommitmentRecord):
        session.execute(delete(table).where(table.plan_id == plan.id))
    record = session.get(PlanRecord, plan.id) or PlanRecord(id=plan.id)
    record.title, record.document, record.city = plan.title, plan.document, plan.city
    record.baseline_year, record.start_year, record.end_year = plan.baseline_year, plan.start_year, plan.end_year
    record.body = dump_plan(plan)
    record.loaded_at = datetime.now(UTC).replace(tzinfo=None)
    session.add(record)
    session.flush()
    session.add_all(
        OrgUnitRecord(
            plan_id=plan.id, code=u.code, gb_code=u.gb_code, name=u.name, kind=u.kind,
            members=",".join(u.members),
        )
        for u in plan.org_units
    )
    session.add_all(
        IndicatorRecord(
            plan_id=plan.id, code=i.code, name=i.name, category=i.category, unit=i.unit,
            baseline=i.baseline, target=i.target, kind=i.kind.value, attribute=i.attribute.value,
            aggregation=i.aggregation.value, note=i.note,
        )
        for i in plan.indicators
    )
    session.add_all(
        TargetRecord(
            plan_id=plan.id, table_name=d.table, indicator_code=d.indicator, org_unit=r.org_unit,
            year=year, value=value, unit=d.unit,
        )
        for d in plan.decompositions
        for r in (*d.rows, d.total_row)
        for year, value in r.values.items()
    )
    session.add_all(
        CommitmentRecord(
            plan_id=plan.id, code=c.id, section=c.section, text=c.text, value=c.value, unit=c.unit,
            comparator=c.comparator, due=c.due, area=c.area, indicator_code=c.indicator,
        )
        for c in plan.commitments
    )


def stored_plan(session: Session, plan_id: str | None = None) -> Plan | None:
    """The plan with plan_id, or the most recently loaded one."""
    query = select(PlanRecord.body)
    query = query.where(PlanRecord.id == plan_id) if plan_id else query.order_by(PlanRecord.loaded_at.desc())
    body = session.execute(query.limit(1)).scalar_one_or_none()
    return plan_from_dict(yaml.safe_load(body)) if body else None


def prepare_store(engine: Engine, plan_file: Path | None = None) -> Plan:
    """Migrate the schema and, on an empty store, load the plan (shipped one by default).
    Under the set-up lock: commands started at once on an empty store all succeed, one
    migrating and loading, the others finding it done."""
    with schema_lock(engine):
        migrate(engine)
        with transaction(engine) as session:
            plan = stored_plan(session)
            if plan is None:
                plan = load_plan(plan_file)
                save_plan(session, plan)
    return plan
