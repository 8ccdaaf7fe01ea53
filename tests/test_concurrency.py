"""Concurrent writes on the collection workflow and the store's set-up, on SQLite and PostgreSQL.

Each race is made to happen, not hoped for: two sessions read the same submission before
either writes (what two browser tabs do), or a second writer starts while the first one's
transaction is still open. The drill against a running server is `bench/drill_concurrency.py`;
`test_drill_small` runs it here at a small size.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from hrss.audit.service import Origin
from hrss.audit.tables import AuditEvent
from hrss.db import session_factory, transaction
from hrss.monitoring import workflow as wf
from hrss.monitoring.rules import load_rules
from hrss.monitoring.tables import PendingValue
from hrss.plan.model import Plan
from hrss.plan.store import stored_plan

ROOT = Path(__file__).resolve().parents[1]
UNIT, PERIOD = "沛县", "2024-03"


def _plan(engine: Engine) -> Plan:
    with transaction(engine) as s:
        plan = stored_plan(s)
    assert plan is not None
    return plan


def _save(s, plan: Plan, values: dict[str, str], version: int | None, who: str = "peixian") -> wf.SaveResult:
    return wf.save(s, plan, plan.org_unit(UNIT), wf.monthly_period(PERIOD), values, version=version,
                   origin=Origin(user_name=who))


def _pending(engine: Engine) -> dict[str, float]:
    with transaction(engine) as s:
        sub = wf.get_submission(s, _plan(engine), UNIT, PERIOD)
        return {code: v.value for code, v in wf.pending_values(s, sub).items()}


def _events(engine: Engine, action: str) -> int:
    with transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_a_save_from_a_stale_page_never_replaces_a_submitted_month(engine: Engine) -> None:
    plan = _plan(engine)
    with transaction(engine) as s:
        _save(s, plan, {"I01": "300", "I04": "120"}, 0)
    stale = session_factory(engine)()
    try:
        seen = wf.get_submission(stale, plan, UNIT, PERIOD)  # this page was loaded at version 1, a draft
        assert (seen.status, seen.version) == ("draft", 1)
        with transaction(engine) as s:  # meanwhile the colleague submits
            wf.submit(s, plan, plan.org_unit(UNIT), wf.monthly_period(PERIOD), version=1, comment="",
                      rules=load_rules(), origin=Origin(user_name="peixian2"))
        with pytest.raises(wf.Conflict):
            _save(stale, plan, {"I01": "1700", "I04": "120"}, 1)
    finally:
        stale.rollback()
        stale.close()
    with transaction(engine) as s:
        sub = wf.get_submission(s, plan, UNIT, PERIOD)
        assert (sub.status, sub.version) == ("submitted", 2)
    assert _pending(engine) == {"I01": pytest.approx(0.03), "I04": pytest.approx(0.012)}  # the checked figures stand


def test_two_approvals_of_one_submission_make_one(engine: Engine) -> None:
    plan = _plan(engine)
    with transaction(engine) as s:
        _save(s, plan, {"I01": "300", "I04": "120"}, 0)
        wf.submit(s, plan, plan.org_unit(UNIT), wf.monthly_period(PERIOD), version=None, comment="",
                  rules=load_rules(), origin=Origin(user_name="peixian"))
    first, second = session_factory(engine)(), session_factory(engine)()
    try:
        subs = [wf.get_submission(x, plan, UNIT, PERIOD) for x in (first, second)]  # both pages open
        wf.decide(first, plan, subs[0], "approve", version=2, comment="", origin=Origin(user_name="tongji"))
        first.commit()
        with pytest.raises(wf.Conflict):
            wf.decide(second, plan, subs[1], "approve", version=2, comment="", origin=Origin(user_name="tongji2"))
    finally:
        for x in (first, second):
            x.rollback()
            x.close()
    assert _events(engine, "submission.approve") == 1
    with transaction(engine) as s:
        sub = wf.get_submission(s, plan, UNIT, PERIOD)
        assert (sub.status, sub.version) == ("approved", 3)


def test_two_first_saves_one_wins_the_other_gets_a_conflict(engine: Engine) -> None:
    """Both operators opened the empty form (version 0). The first one's transaction is still
    open when the second one saves: the second waits, then meets the unique key → Conflict."""
    plan = _plan(engine)
    flushed, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with transaction(engine) as s:
            _save(s, plan, {"I01": "300"}, 0, "peixian")
            flushed.set()
            release.wait(10)

    def second() -> None:
        try:
            with transaction(engine) as s:
                _save(s, plan, {"I01": "310"}, 0, "peixian2")
            outcome["second"] = "saved"
        except wf.Conflict:
            outcome["second"] = "conflict"
        except Exception as exc:  # noqa: BLE001  (a 500 in the web layer: the test reports it)
            outcome["second"] = repr(exc)

    a = threading.Thread(target=first)
    a.start()
    assert flushed.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.5)  # the second save is now waiting on the first one's row
    release.set()
    a.join(10)
    b.join(10)
    assert outcome == {"second": "conflict"}
    assert _pending(engine) == {"I01": pytest.approx(0.03)}  # the first one's figures, not overwritten


def test_a_stale_first_draft_is_refused(engine: Engine) -> None:
    """A page that saw no submission sends version 0; once a draft exists that is stale."""
    plan = _plan(engine)
    with transaction(engine) as s:
        _save(s, plan, {"I01": "300"}, 0)
    with pytest.raises(wf.Conflict), transaction(engine) as s:
        _save(s, plan, {"I01": "310"}, 0)
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(PendingValue)) == 1
    assert _pending(engine) == {"I01": pytest.approx(0.03)}


def test_five_commands_at_once_on_an_empty_store(db_url: str, tmp_path: Path) -> None:
    """Migrate and load the plan under the set-up lock: all five succeed, the plan is loaded once."""
    env = {**os.environ, "HRSS_DATABASE_URL": db_url, "HRSS_REPORT_DIR": str(tmp_path / "reports"), "COLUMNS": "200"}
    procs = [subprocess.Popen([sys.executable, "-m", "hrss.cli", "plan", "show"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(5)]
    results = [(p.wait(120), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    failures = [(rc, err[-500:]) for rc, _, err in results if rc != 0]
    assert failures == []
    assert all("城镇新增就业人数" in out for _, out, _ in results)
    from hrss.db import make_engine
    from hrss.plan.tables import PlanRecord

    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            assert s.scalar(select(func.count()).select_from(PlanRecord)) == 1
    finally:
        engine.dispose()


def test_drill_small(db_url: str) -> None:
    """The drill against a real server (2 workers), a few seconds: every race above, at once."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("drill_concurrency", ROOT / "bench" / "drill_concurrency.py")
    drill = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = drill  # its dataclasses look their module up
    spec.loader.exec_module(drill)
    result = drill.run_drill(db_url, seconds=5, units=2, workers=2)
    zero = {k: result[k] for k in ("server_errors", "lost_updates", "duplicate_approvals", "unaccounted_version_steps",
                                   "audit_chain_breaks")}
    assert zero == dict.fromkeys(zero, 0), result
    answers = result["answers"]
    # it did race: some writes were accepted, some refused as stale, and months were approved
    assert answers.get("save 303", 0) > 0 and answers.get("approve 303", 0) > 0, answers
    assert sum(n for k, n in answers.items() if k.endswith(" 409")) > 0, answers
