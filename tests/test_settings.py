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
