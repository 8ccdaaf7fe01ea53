"""Benchmark: the dashboard page and the indicator API under 50 concurrent clients.

Target (issue "Web platform"): p95 under 50 ms at 50 concurrent clients on loopback, with
the full demo data, measured by a load tool in a second process (wrk, Debian's package),
and an approval visible on the dashboard on the next request.
Baseline in the same run: a static file from the same server (no Python work per request).

Usage: .venv/bin/python bench/bench_web.py [--seconds 15] [--connections 50] [--workers 2]
       [--wrk-threads 2] [--pin-server 0 --pin-wrk 1] [--repeat 3]

--pin-server / --pin-wrk run the server and wrk under `taskset -c` on the given CPUs, to
tell the load generator's cost from the server's on a small machine; --repeat runs every
target that many times (interleaved) and reports the median p95, as the machine is shared.
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


def pinned(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus else []


def wrk(url: str, header: str | None, args: argparse.Namespace, script: Path) -> dict[str, float]:
    cmd = [*pinned(args.pin_wrk), "wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{args.seconds}s",
           "-s", str(script), url]
    if header:
        cmd[-1:-1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, v in re.findall(r"^(P95_MS|P50_MS|RPS|ERRORS) ([\d.]+)$", out, re.M)}


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median p95 (all of its figures, so that they belong together)."""
    return sorted(runs, key=lambda r: r["P95_MS"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--pin-server", help="CPUs for the server (taskset -c), e.g. 0")
    parser.add_argument("--pin-wrk", help="CPUs for wrk (taskset -c), e.g. 1")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if (args.pin_server or args.pin_wrk) and shutil.which("taskset") is None:
        sys.exit("taskset is needed for --pin-*: apt-get install util-linux")
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
        server = subprocess.Popen([*pinned(args.pin_server), sys.executable, "-m", "hrss.cli", "serve", "--port", str(port),
                                   "--workers", str(args.workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
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
            targets = {
                "baseline static file": (f"{base}/static/app.css", None),
                "dashboard page": (f"{base}/", f"Cookie: hrss_session={cookie}"),
                "indicator API": (f"{base}/api/v1/indicators/I01", f"Authorization: Bearer {token}"),
            }
            load = os.getloadavg()[0]
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.repeat):
                for name, (target, header) in targets.items():
                    runs[name].append(wrk(target, header, args, script))
            results = {name: median_run(r) for name, r in runs.items()}
            visible = approval_visible(engine, plan, settings, base, cookie, op)
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()
            engine.dispose()
            errors = [line for line in (Path(tmp) / "server.log").read_text().splitlines() if "Error" in line]
            print(f"server log: {len(errors)} error lines" + (f"; first: {errors[0]}" if errors else ""))
    pins = f"; server on CPU {args.pin_server or 'any'}, wrk on CPU {args.pin_wrk or 'any'}"
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} before the runs; server workers {args.workers}; "
          f"{args.connections} connections, {args.seconds} s each, wrk -t{args.wrk_threads}{pins}")
    base_p95 = results["baseline static file"]["P95_MS"]
    for name, r in results.items():
        spread = "" if args.repeat == 1 else "  p95 of the runs: " + ", ".join(f"{x['P95_MS']:.1f}" for x in runs[name])
        print(f"{name:22s} p50 {r['P50_MS']:7.2f} ms  p95 {r['P95_MS']:7.2f} ms  ({r['P95_MS'] / base_p95:5.2f}x baseline)  "
              f"{r['RPS']:8.1f} req/s  errors {int(r['ERRORS'])}{spread}")
    print(f"approval visible on the next request (dashboard and org unit page): {visible}")


def approval_visible(engine, plan, settings, base, cookie, operator) -> bool:  # type: ignore[no-untyped-def]
    """Approve a new figure for 沛县's 2025-12 in the store (as another process would), then
    read the dashboard and 沛县's page once each: both must show it."""
    unit = plan.org_unit("沛县")
    period = wf.monthly_period("2025-12")
    origin = Origin(user=operator)
    with transaction(engine) as s:
        s.execute(delete(ValueRecord).where(ValueRecord.org_unit == "沛县", ValueRecord.period == "2025-12"))
        wf.save(s, plan, unit, period, {"I01": "1700"}, version=None, origin=origin)
    with transaction(engine) as s:
        wf.submit(s, plan, unit, period, version=None, comment="压测", rules=load_rules(), origin=origin)
    pages = [f"{base}/", f"{base}/org-units/%E6%B2%9B%E5%8E%BF?as_of=2025-12"]

    def read() -> list[str]:
        return [urllib.request.urlopen(urllib.request.Request(page, headers={"Cookie": f"hrss_session={cookie}"})).read().decode()
                for page in pages]

    before = read()
    assert read() == before  # served from the cache now
    with transaction(engine) as s:
        sub = wf.get_submission(s, plan, "沛县", "2025-12")
        wf.decide(s, sub, "approve", version=None, comment="", origin=Origin(user_name="bench"))
    after = read()
    return all(b != a for b, a in zip(before, after, strict=True))


if __name__ == "__main__":
    main()
