"""Every setting, declared once (HRSS_* environment variables).

The documentation page docs/SETTINGS.md is checked against this list by a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from hrss.monitoring.evaluation import StatusThresholds

DEFAULT_VAR_DIR = Path("var")


class Settings(BaseSettings):
    """Runtime settings. Build one per process (or per test); never at import time."""

    model_config = SettingsConfigDict(env_prefix="HRSS_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        default="development",
        description="development (the embedded defaults: SQLite and files under ./var) or production: "
        "then the platform refuses to start, and `demo` / `serve --demo` refuse to run, while a setting "
        "still has its development default (see docs/OPERATIONS.md, 生产部署).",
    )
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_VAR_DIR / 'hrss.sqlite3'}",
        description="SQLAlchemy URL of the transactional store (SQLite file by default; "
        "postgresql+psycopg://… in production).",
    )
    plan_file: Path | None = Field(
        default=None,
        description="Plan file loaded into an empty store; default: the shipped Xuzhou "
        "2021–2025 plan.",
    )
    rules_file: Path | None = Field(
        default=None,
        description="Validation rules run on submit (YAML); default: the shipped "
        "src/hrss/data/validation_rules.yaml.",
    )
    report_deadline_day: int = Field(
        default=10, ge=1, le=28,
        description="Monthly figures are due by this day of the following month (报送截止日).",
    )
    upload_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        description="Largest accepted upload (Excel template), in bytes.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed, as a comma-"
        "separated list of addresses or networks (e.g. 10.0.0.5,10.0.1.0/24). Empty: no proxy is trusted and "
        "the audit log records the connecting address.",
    )
    report_dir: Path = Field(
        default=DEFAULT_VAR_DIR / "reports",
        description="Where `hrss report` writes Word and Excel files unless --out is given.",
    )
    ledger_dir: Path = Field(
        default=DEFAULT_VAR_DIR / "ledgers",
        description="Where the real-name ledgers (Parquet) live (HRSS_LEDGER_DIR).",
    )
    reconcile_tolerance: float = Field(
        default=0.05, ge=0.0,
        description="`hrss stats reconcile` flags a count whose reported and computed (实名制) "
        "values differ by more than this share of the computed value.",
    )
    reconcile_tolerance_pp: float = Field(
        default=1.0, ge=0.0,
        description="`hrss stats reconcile` flags a rate whose reported and computed values "
        "differ by more than this many percentage points (per-10,000 rates: this many per 10,000).",
    )
    status_ahead_pp: float = Field(
        default=5.0,
        description="Completion at least this many percentage points ahead of time elapsed "
        "is 超序时 (ahead of schedule).",
    )
    status_behind_pp: float = Field(
        default=5.0,
        description="Completion more than this many points behind time elapsed is 滞后 "
        "(behind schedule).",
    )
    status_severe_pp: float = Field(
        default=15.0,
        description="Completion more than this many points behind time elapsed is 严重滞后 "
        "(seriously behind).",
    )
    rate_severe_pp: float = Field(
        default=2.0,
        description="A ceiling/floor missing its bound (未达标) by more than this many points "
        "is shown red; by less, yellow (always red once the plan period is over).",
    )
    projection_risk_ratio: float = Field(
        default=0.95,
        description="A projection reaching at least this share of the target (but not all of "
        "it) is 存在风险; below it, 难以完成.",
    )
    status_mostly_done_ratio: float = Field(
        default=0.95, gt=0.0, le=1.0,
        description="Once the plan period is over, a 预期性 target reached to at least this share "
        "of its value (but not all of it) is 基本完成; below it, 未完成. A 约束性 target is "
        "已完成 or 未完成.",
    )

    password_min_length: int = Field(
        default=12,
        ge=8,
        description="Shortest password accepted (密码最小长度); passwords must also mix 3 of 4 "
        "character classes and not contain the user name.",
    )
    password_max_age_days: int = Field(
        default=90,
        ge=0,
        description="A password older than this many days must be changed at the next sign-in "
        "(密码有效期); 0 disables expiry.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins for one user name from one client address (known name or "
        "not; IPv6 by /64) after which that pair must wait before its next try (登录失败限流次数). "
        "There is no account lock: the owner signing in from another address is not held up, "
        "and a success or an administrator's password reset clears the count.",
    )
    login_lock_minutes: int = Field(
        default=15,
        ge=1,
        description="The wait after the HRSS_LOGIN_MAX_FAILURES-th failure of a (user name, "
        "address) pair, in minutes; each further failure doubles it, up to 24 hours "
        "(登录限流等待时长). A pair without a failure for 48 hours starts over.",
    )
    session_idle_minutes: int = Field(
        default=30,
        ge=1,
        description="A web session unused for this many minutes ends (会话空闲超时).",
    )
    session_absolute_hours: int = Field(
        default=12,
        ge=1,
        description="A web session ends this many hours after sign-in, however active "
        "(会话绝对超时).",
    )
    mfa_key_file: Path = Field(
        default=DEFAULT_VAR_DIR / "mfa.key",
        description="The key (32 random bytes, base64) that encrypts the TOTP secrets of the second factor "
        "(双因素动态口令密钥), kept outside the database: a copy of the store alone does not give the secrets. "
        "Made (mode 0600) at the first enrolment when missing. Keep it with the backups, apart from the "
        "database dump; losing it means every privileged account enrols again (`hrss user reset-mfa`). "
        "In production set an absolute path.",
    )

    @property
    def thresholds(self) -> StatusThresholds:
        from hrss.monitoring.evaluation import StatusThresholds

        return StatusThresholds(
            ahead_pp=self.status_ahead_pp,
            behind_pp=self.status_behind_pp,
            severe_pp=self.status_severe_pp,
            rate_severe_pp=self.rate_severe_pp,
            projection_risk_ratio=self.projection_risk_ratio,
            mostly_done_ratio=self.status_mostly_done_ratio,
        )



class ProductionSettingsError(ValueError):
    """Production mode with settings that are only fit for development."""


def production_problems(settings: Settings) -> list[str]:
    """What production mode refuses, as Chinese (English) messages; empty in development."""
    if settings.environment != "production":
        return []
    problems = []
    if settings.database_url.startswith("sqlite"):
        problems.append("HRSS_DATABASE_URL：生产环境须使用 PostgreSQL，SQLite 仅供开发与演示 "
                        "(production needs PostgreSQL: postgresql+psycopg://…)")
    for name in ("report_dir", "ledger_dir", "mfa_key_file"):
        if not getattr(settings, name).is_absolute():
            problems.append(f"HRSS_{name.upper()}：生产环境须设为绝对路径，不能用相对于启动目录的默认值 "
                            f"(must be an absolute path, not the development default relative to the working directory)")
    if not settings.trusted_proxies.strip():
        problems.append("HRSS_TRUSTED_PROXIES：生产环境由反向代理终止 TLS，须填写代理地址，否则审计日志只记录代理地址、"
                        "浏览器收不到 HSTS (TLS is terminated by a reverse proxy: name it, or the audit log records "
                        "only the proxy and no HSTS is sent)")
    return problems


def check_production(settings: Settings) -> None:
    """Raise ProductionSettingsError listing every problem of production_problems."""
    problems = production_problems(settings)
    if problems:
        raise ProductionSettingsError(
            "生产模式 (HRSS_ENVIRONMENT=production) 拒绝启动，以下设置仍为开发默认值 "
            "(production mode refuses to start with development defaults):\n- " + "\n- ".join(problems))


def settings_markdown() -> str:
    """docs/SETTINGS.md, generated from the declarations above (a test keeps it current)."""
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable. This page is generated from",
        "`src/hrss/settings.py` by `python -m hrss.settings > docs/SETTINGS.md`; a test checks it.",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, f in Settings.model_fields.items():
        default = "shipped Xuzhou plan" if f.default is None else str(f.default)
        lines.append(f"| `HRSS_{name.upper()}` | `{default}` | {f.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_markdown(), end="")
