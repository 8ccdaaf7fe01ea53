"""Benchmark: the dashboard page and the indicator API under 50 concurrent clients.

Target (issue "Web platform"): p95 under 50 ms at 50 concurrent clients on loopback, with
the full demo data, measured by a load tool in a second process (wrk, Debian's package),
and an approval visible on the dashboard on the next request.
Baseline in the same run: a static file from the same server (no Python work per request).

Usage: .venv/bin/python bench/bench_web.py [--seconds 15] [--connections 50]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import delete

from hrss.audit.service import Origin, utcnow
from hrss.auth.service import create_api_token, create_user, start_session
from hrss.db import make_engine, transaction
from hrss.monitoring import workflow as wf
from hrss.monitoring.demo import build_demo, load_demo
from hrss.monitoring.rules import load_rules
from hrss.monitoring.tables import ValueRecord
from hrss.plan.store import prepare_store
from hrss.settings import Settings

P95_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("P95_MS %.2f\\nP50_MS %.2f\\nRPS %.1f\\nERRORS %d\\n", latency:percentile(95) / 1000,
    latency:percentile(50) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url: str, header: str | None, seconds: int, connections: int, script: Path) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    if header:
        cmd[1:1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, v in re.findall(r"^(P95_MS|P50_MS|RPS|ERRORS) ([\d.]+)$", out, re.M)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        settings = Settings(database_url=url)
        engine = make_engine(url)
        plan = prepare_store(engine)
        with transaction(engine) as s:
            load_demo(s, plan, build_demo(plan))
            boss, _ = create_user(s, username="bench", display_name="压测", role="city_statistician", org_unit=None,
                                  plan=plan, settings=settings, password="Xuzhou-2025-plan!")
            token = create_api_token(s, boss, "bench")
            cookie = start_session(s, boss, client_addr="127.0.0.1", now=utcnow())
            op, _ = create_user(s, username="peixian", display_name="沛县", role="district_operator", org_unit="沛县",
                                plan=plan, settings=settings, password="Xuzhou-2025-plan!")
        port = free_port()
        env = {**os.environ, "HRSS_DATABASE_URL": url}
        log = open(Path(tmp) / "server.log", "w")  # noqa: SIM115 (closed with the server)
        server = subprocess.Popen([sys.executable, "-m", "hrss.cli", "serve", "--port", str(port), "--workers", str(args.workers)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/login", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            script = Path(tmp) / "p95.lua"
            script.write_text(P95_LUA)
            results = {
                "baseline static file": wrk(f"{base}/static/app.css", None, args.seconds, args.connections, script),
                "dashboard page": wrk(f"{base}/", f"Cookie: hrss_session={cookie}", args.seconds, args.connections, script),
                "indicator API": wrk(f"{base}/api/v1/indicators/I01", f"Authorization: Bearer {token}", args.seconds,
                                     args.connections, script),
            }
            visible = approval_visible(engine, plan, settings, base, cookie, op)
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()
            engine.dispose()
            errors = [line for line in (Path(tmp) / "server.log").read_text().splitlines() if "Error" in line]
            print(f"server log: {len(errors)} error lines" + (f"; first: {errors[0]}" if errors else ""))
    print(f"machine: {os.cpu_count()} cores; server workers {args.workers}; {args.connections} connections, {args.seconds} s each, wrk -t2")
    base_p95 = results["baseline static file"]["P95_MS"]
    for name, r in results.items():
        print(f"{name:22s} p50 {r['P50_MS']:7.2f} ms  p95 {r['P95_MS']:7.2f} ms  ({r['P95_MS'] / base_p95:5.2f}x baseline)  "
              f"{r['RPS']:8.1f} req/s  errors {int(r['ERRORS'])}")
    print(f"approval visible on the next dashboard request: {visible}")


def approval_visible(engine, plan, settings, base, cookie, operator) -> bool:  # type: ignore[no-untyped-def]
    """Approve a new month for 沛县 in the store, then read the dashboard once."""
    unit = plan.org_unit("沛县")
    period = wf.monthly_period("2025-12")
    origin = Origin(user=operator)
    with transaction(engine) as s:
        s.execute(delete(ValueRecord).where(ValueRecord.org_unit == "沛县", ValueRecord.period == "2025-12"))
        wf.save(s, plan, unit, period, {"I01": "1700"}, version=None, origin=origin)
    with transaction(engine) as s:
        wf.submit(s, plan, unit, period, version=None, comment="压测", rules=load_rules(), origin=origin)
    request = urllib.request.Request(f"{base}/org-units/%E6%B2%9B%E5%8E%BF?as_of=2025-12", headers={"Cookie": f"hrss_session={cookie}"})
    before = urllib.request.urlopen(request).read().decode()
    with transaction(engine) as s:
        sub = wf.get_submission(s, plan, "沛县", "2025-12")
        wf.decide(s, sub, "approve", version=None, comment="", origin=Origin(user_name="bench"))
    after = urllib.request.urlopen(request).read().decode()
    return before != after


if __name__ == "__main__":
    main()
