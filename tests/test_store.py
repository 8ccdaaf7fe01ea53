"""The store: migrations match the models, the plan loads once, commands migrate on first use."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from hrss import models  # noqa: F401
from hrss.cli import app
from hrss.db import Base, transaction
from hrss.plan.model import Plan
from hrss.plan.store import prepare_store, stored_plan
from hrss.plan.tables import CommitmentRecord, IndicatorRecord, OrgUnitRecord, TargetRecord

runner = CliRunner()


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_plan_is_loaded_once_with_its_lookup_rows(engine: Engine, plan: Plan) -> None:
    assert prepare_store(engine) == plan  # a second call finds the stored plan
    with transaction(engine) as s:
        assert stored_plan(s) == plan
        count = lambda t: s.execute(select(func.count()).select_from(t)).scalar_one()  # noqa: E731
        assert count(IndicatorRecord) == 21  # 19 of 表2 + 2 annex-only
        assert count(OrgUnitRecord) == 18
        assert count(CommitmentRecord) == len(plan.commitments)
        # every annex cell: 9 tables, rows incl. 合计 × years
        cells = sum((len(d.rows) + 1) * len(d.years) for d in plan.decompositions)
        assert count(TargetRecord) == cells


def test_db_upgrade_command_on_a_fresh_database(cli_env: str) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "徐州市“十四五”人力资源和社会保障发展规划" in result.output
    result = runner.invoke(app, ["plan", "show"])
    assert result.exit_code == 0 and "城镇新增就业人数" in result.output


def test_reloading_a_plan_keeps_its_values(engine: Engine, plan: Plan, tmp_path) -> None:
    from hrss.monitoring.tables import ValueRecord
    from hrss.monitoring.values import import_file
    from hrss.plan.store import save_plan

    path = tmp_path / "v.csv"
    path.write_text("indicator,org_unit,period,value\nI01,丰县,2023-06,2300\n", encoding="utf-8")
    with transaction(engine) as s:
        assert import_file(s, plan, path).stored == 1
    with transaction(engine) as s:
        save_plan(s, plan)
    with transaction(engine) as s:
        assert s.execute(select(func.count()).select_from(ValueRecord)).scalar_one() == 1
        assert stored_plan(s) == plan
