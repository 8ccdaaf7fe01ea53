"""Settings are declared once; the documentation page is generated from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from hrss.settings import Settings, settings_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "SETTINGS.md"


def test_settings_page_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == settings_markdown(), "run: python -m hrss.settings > docs/SETTINGS.md"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRSS_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("HRSS_STATUS_SEVERE_PP", "20")
    s = Settings()
    assert s.database_url == "sqlite:///x.db"
    assert s.thresholds.severe_pp == 20.0


def test_production_mode_refuses_every_development_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hrss.settings import ProductionSettingsError, check_production, production_problems

    monkeypatch.delenv("HRSS_MFA_KEY_FILE", raising=False)  # the defaults themselves (conftest sets one)
    assert production_problems(Settings()) == []  # development: the embedded defaults are the point
    problems = production_problems(Settings(environment="production"))
    assert [p.split("：")[0] for p in problems] == [
        "HRSS_DATABASE_URL", "HRSS_REPORT_DIR", "HRSS_LEDGER_DIR", "HRSS_MFA_KEY_FILE", "HRSS_TRUSTED_PROXIES"]
    ready = Settings(environment="production", database_url="postgresql+psycopg://hrss@db/hrss",
                     report_dir=tmp_path / "reports", ledger_dir=tmp_path / "ledgers", mfa_key_file=tmp_path / "mfa.key",
                     trusted_proxies="10.0.0.5")
    assert production_problems(ready) == []
    check_production(ready)
    with pytest.raises(ProductionSettingsError, match="HRSS_TRUSTED_PROXIES"):
        check_production(Settings(environment="production", database_url="postgresql+psycopg://hrss@db/hrss",
                                  report_dir=tmp_path, ledger_dir=tmp_path, mfa_key_file=tmp_path / "k"))


def test_the_platform_and_the_demo_refuse_to_start_in_production_on_defaults(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hrss.cli import app
    from hrss.settings import ProductionSettingsError
    from hrss.web.app import create_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HRSS_ENVIRONMENT", "production")
    with pytest.raises(ProductionSettingsError, match="HRSS_DATABASE_URL"):
        create_app()  # also what each `serve --workers N` worker builds
    runner = CliRunner()
    served = runner.invoke(app, ["serve"])
    assert served.exit_code == 2 and "生产模式" in served.output and "HRSS_LEDGER_DIR" in served.output
    demo = runner.invoke(app, ["demo"])
    assert demo.exit_code == 2 and "不能载入模拟数据" in demo.output
    assert not (tmp_path / "var").exists()  # refused before anything was created
