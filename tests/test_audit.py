"""The audit trail: a hash chain that notices altered, deleted and truncated events."""

from __future__ import annotations

import getpass
import json
import re
import threading
from contextlib import suppress
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from hrss.audit.service import GENESIS, RETENTION_DAYS, count_events, record, verify
from hrss.audit.tables import AuditEvent, AuditHead
from hrss.auth.service import AuthError, authenticate, create_user
from hrss.cli import app
from hrss.db import transaction
from hrss.plan.model import Plan
from hrss.settings import Settings

T0 = datetime(2025, 3, 1, 8, 0, 0)  # naive UTC: 16:00 in Beijing
PASSWORD = "Huaihai-2025-plan"
SETTINGS = Settings(login_max_failures=5, login_lock_minutes=15)


def _history(engine: Engine, plan: Plan) -> int:
    """A real history: two users created, a wrong password, a sign-in, an unknown user.
    Returns the number of events (2 + 1 + 1 + 1 = 5)."""
    with transaction(engine) as s:
        for name, role, unit in (("admin", "city_admin", None), ("fx01", "district_operator", "丰县")):
            create_user(s, username=name, display_name=name, role=role, org_unit=unit, password=PASSWORD,
                        plan=plan, settings=SETTINGS, now=T0)
    for minute, (name, password) in enumerate([("fx01", "Wrong-password-1"), ("fx01", PASSWORD), ("nobody", PASSWORD)]):
        # suppress inside the transaction: a refusal is recorded and committed like a success
        with transaction(engine) as s, suppress(AuthError):
            authenticate(s, name, password, settings=SETTINGS, now=T0 + timedelta(minutes=minute + 1))
    return 5


def _tamper(engine: Engine, *statements: str) -> None:
    """Run statements the way an intruder with DDL rights would: append-only triggers off."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        for statement in statements:
            conn.execute(text(statement))


def _verify(engine: Engine) -> list[str]:
    with transaction(engine) as s:
        return verify(s)


def test_a_real_history_verifies(engine: Engine, plan: Plan) -> None:
    n = _history(engine, plan)
    with transaction(engine) as s:
        events = s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        assert [e.action for e in events] == ["user.created", "user.created", "auth.login_failed", "auth.login", "auth.login_failed"]
        assert len(events) == count_events(s) == n
        assert events[0].prev_hash == GENESIS
        assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
        head = s.get_one(AuditHead, 1)
        assert (head.last_id, head.last_hash) == (events[-1].id, events[-1].hash)
        assert (events[0].at, events[0].at_local) == (T0, "2025-03-01 16:00:00+08:00")  # UTC+8
        assert events[3].at_local == "2025-03-01 16:02:00+08:00"  # the sign-in at T0+2 min
        assert (events[3].user_name, events[3].object_id) == ("fx01", str(events[3].user_id))
        assert verify(s) == []


def test_the_hash_is_sha256_over_canonical_json(engine: Engine) -> None:
    with transaction(engine) as s:
        event = record(s, action="value.approved", object_type="value", object_id=7, before={"状态": "待审核"},
                       after={"状态": "已审核", "value": 2300}, user_name="cli:root", request_id="req-1",
                       client_addr="10.0.0.8", now=T0)
    fields = {
        "at": "2025-03-01T08:00:00.000000", "at_local": "2025-03-01 16:00:00+08:00", "user_id": None,
        "user_name": "cli:root", "action": "value.approved", "object_type": "value", "object_id": "7",
        "before": '{"状态": "待审核"}', "after": '{"value": 2300, "状态": "已审核"}', "request_id": "req-1",
        "client_addr": "10.0.0.8", "prev_hash": GENESIS,
    }
    assert (event.before, event.after) == (fields["before"], fields["after"])
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert event.hash == sha256(canonical.encode("utf-8")).hexdigest()


def test_the_table_is_append_only(engine: Engine, plan: Plan) -> None:
    _history(engine, plan)
    for statement in ("UPDATE audit_event SET after = '{}' WHERE id = 1", "DELETE FROM audit_event WHERE id = 5"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert _verify(engine) == []


def test_an_altered_row_is_reported(engine: Engine, plan: Plan) -> None:
    _history(engine, plan)
    _tamper(engine, """UPDATE audit_event SET after = '{"reason": "nothing happened"}' WHERE id = 3""")
    [problem] = _verify(engine)
    assert "#3" in problem and "altered" in problem and "被修改" in problem


def test_an_altered_row_with_a_recomputed_hash_breaks_the_link(engine: Engine, plan: Plan) -> None:
    _history(engine, plan)
    _tamper(engine, "UPDATE audit_event SET hash = '" + "f" * 64 + "' WHERE id = 3")
    problems = _verify(engine)
    assert len(problems) == 2
    assert "#3" in problems[0] and "altered" in problems[0]  # its content no longer fits its hash
    assert "#4" in problems[1] and "#3" in problems[1]  # and #4 no longer follows it


def test_a_deleted_middle_row_is_reported(engine: Engine, plan: Plan) -> None:
    _history(engine, plan)
    _tamper(engine, "DELETE FROM audit_event WHERE id = 3")
    [problem] = _verify(engine)
    assert "#4" in problem and "#2" in problem and "deleted or inserted" in problem


def test_a_deleted_first_row_is_reported(engine: Engine, plan: Plan) -> None:
    _history(engine, plan)
    _tamper(engine, "DELETE FROM audit_event WHERE id = 1")
    [problem] = _verify(engine)
    assert "#2" in problem and "earlier events deleted" in problem


def test_a_deleted_last_row_is_reported_by_the_head(engine: Engine, plan: Plan) -> None:
    _history(engine, plan)
    _tamper(engine, "DELETE FROM audit_event WHERE id = 5")
    [problem] = _verify(engine)
    assert "#5" in problem and "#4" in problem and "tail was deleted" in problem
    # A new event chains onto the head (the deleted event), so the gap stays visible.
    with transaction(engine) as s:
        record(s, action="auth.logout", object_type="user", object_id=1, now=T0 + timedelta(hours=1))
    [problem] = _verify(engine)
    assert "#6" in problem and "#4" in problem


def test_an_emptied_table_is_reported(engine: Engine, plan: Plan) -> None:
    _history(engine, plan)
    _tamper(engine, "DELETE FROM audit_event")
    [problem] = _verify(engine)
    assert "#5" in problem and "#0" in problem


def test_events_roll_back_with_their_change(engine: Engine, plan: Plan) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as s:
        create_user(s, username="admin", display_name="admin", role="city_admin", org_unit=None,
                    password=PASSWORD, plan=plan, settings=SETTINGS, now=T0)
        raise RuntimeError("the change fails after its event was written")
    with transaction(engine) as s:
        assert count_events(s) == 0 and verify(s) == []


def test_concurrent_writers_keep_one_chain(engine: Engine) -> None:
    """4 threads × 10 events, each in its own transaction: one chain of 40, no fork."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with transaction(engine) as s:
                    record(s, action="test.write", object_type="thread", object_id=f"{n}-{i}")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with transaction(engine) as s:
        assert count_events(s) == 40
        assert verify(s) == []


def test_audit_verify_and_show_commands(cli_env: str, engine: Engine, plan: Plan) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0 and "审计链校验通过 (audit chain verified): 0 条" in result.output
    _history(engine, plan)
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "审计链校验通过 (audit chain verified): 5 条" in result.output
    show = runner.invoke(app, ["audit", "show", "--limit", "2"])
    assert show.exit_code == 0, show.output
    assert "显示 2 条" in show.output and "登录失败" in show.output and "2025-03-01 16:03:00+08:00" in show.output
    assert re.search(r"\b4\b", show.output) and "16:00:00" not in show.output  # events 5 and 4 only
    _tamper(engine, "DELETE FROM audit_event WHERE id = 3")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "#4" in result.output and "发现 1 处问题" in result.output


# --- the command line writes audit events too; nothing deletes them -----------------------


def test_cli_import_is_audited(cli_env: str, engine: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    who = f"cli:{getpass.getuser()}"
    bad = tmp_path / "bad.csv"
    bad.write_text("indicator,org_unit,period,value\nI01,火星区,2023-06,1\n", encoding="utf-8")
    assert runner.invoke(app, ["actuals", "import", str(bad)]).exit_code == 1
    assert "0 条" in runner.invoke(app, ["audit", "verify"]).output  # refused: nothing stored, nothing recorded
    good = tmp_path / "good.csv"
    good.write_text("indicator,org_unit,period,value\nI01,丰县,2023-06,2300\nI02,徐州市,2023-06,2.1\n", encoding="utf-8")
    imported = runner.invoke(app, ["actuals", "import", str(good)])
    assert imported.exit_code == 0, imported.output
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "审计链校验通过 (audit chain verified): 1 条" in verified.output, verified.output
    show = runner.invoke(app, ["audit", "show"])
    assert show.exit_code == 0, show.output
    assert "导入实际值 values.imported" in show.output and who in show.output and "good.csv" in show.output
    with transaction(engine) as s:
        [event] = s.execute(select(AuditEvent)).scalars()
        assert (event.user_id, event.user_name, event.object_type) == (None, who, "import_batch")
        assert json.loads(event.after or "") == {"file": "good.csv", "source": "reported", "stored": 2, "warnings": 0}


def test_audit_show_masks_like_the_web(cli_env: str, engine: Engine) -> None:
    with transaction(engine) as s:
        record(s, action="submission.return", object_type="submission", object_id=7, now=T0,
               before={"status": "submitted", "comment": "联系13812341234"},
               after={"status": "returned", "comment": "身份证320382198001010019有误 [/x] [red]"})
    show = CliRunner().invoke(app, ["audit", "show"])
    assert show.exit_code == 0, show.output
    assert "138****1234" in show.output and "320382********0019" in show.output
    assert "13812341234" not in show.output and "198001010019" not in show.output
    assert "[/x] [red]" in show.output  # shown as text, not read as console markup
    assert "退回 submission.return" in show.output


def test_nothing_deletes_audit_events() -> None:
    """Retention ≥ 180 days (等保三级) holds because no path deletes an event at all: no command
    (walked from the root app), no statement in the package; the triggers refuse the rest
    (test_the_table_is_append_only)."""
    import typer.main

    def paths(command: Any, prefix: str = "") -> list[str]:  # 'audit show', 'user token revoke' …
        found = []
        for sub in getattr(command, "commands", {}).values():
            found += [f"{prefix}{sub.name}", *paths(sub, f"{prefix}{sub.name} ")]
        return found

    commands = paths(typer.main.get_command(app))
    assert "actuals import" in commands and "user token revoke" in commands
    assert [c for c in commands if c.startswith("audit ")] == ["audit verify", "audit show"]
    assert not [c for c in commands if re.search(r"purge|prune|delete|truncate|downgrade", c)]
    package = Path(__file__).parents[1] / "src" / "hrss"
    deleting = re.compile(r"delete\(\s*Audit(Event|Head)\b|DELETE\s+FROM\s+audit_(event|head)|TRUNCATE[^;\n]*audit_event", re.I)
    offenders = [str(p) for p in package.rglob("*.py") if "migrations" not in p.parts and deleting.search(p.read_text("utf-8"))]
    assert offenders == []
    assert RETENTION_DAYS >= 180
