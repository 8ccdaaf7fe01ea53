"""Shared fixtures: the shipped plan, and a store on SQLite and (when configured) PostgreSQL.

Set HRSS_TEST_POSTGRES_URL to run the store tests on PostgreSQL too (scripts/test
starts a cluster and sets it). In CI (CI=true) a missing PostgreSQL is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from hrss.db import make_engine
from hrss.plan.model import Plan
from hrss.plan.planfile import load_plan
from hrss.plan.store import prepare_store

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def _mfa_key_outside_the_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The second factor's key file (HRSS_MFA_KEY_FILE, default ./var/mfa.key) of this run's
    own, also for the servers tests start: never one in the working tree."""
    before = os.environ.get("HRSS_MFA_KEY_FILE")
    os.environ["HRSS_MFA_KEY_FILE"] = str(tmp_path_factory.mktemp("mfa") / "mfa.key")
    yield
    if before is None:
        os.environ.pop("HRSS_MFA_KEY_FILE", None)
    else:
        os.environ["HRSS_MFA_KEY_FILE"] = before


@pytest.fixture(scope="session")
def plan() -> Plan:
    return load_plan()


def _postgres_url() -> str | None:
    url = os.environ.get("HRSS_TEST_POSTGRES_URL")
    if not url and os.environ.get("CI") == "true":
        pytest.fail("CI 必须在 PostgreSQL 上运行测试 (CI must test PostgreSQL): HRSS_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A database of this test run's own on the configured server (parallel runs don't collide)."""
    base = _postgres_url()
    if base is None:
        yield None
        return
    name = f"hrss_test_{os.getpid()}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hrss.sqlite3'}"
        return
    url = postgres_url
    if url is None:
        pytest.skip("HRSS_TEST_POSTGRES_URL not set")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    prepare_store(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HRSS_DATABASE_URL", db_url)
    monkeypatch.setenv("HRSS_REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("COLUMNS", "240")  # wide tables: names are not folded
    return db_url
