"""Concurrency drill: operators and statisticians writing at once against a running server.

Starts `hrss serve --workers N` on a fresh store (SQLite file by default, or --database-url
for PostgreSQL), signs in two operators per unit and two statisticians, and lets them work
the same months at once for --seconds: operators open the form and save or submit
(figures drawn at random), statisticians approve, return or reopen what they find. Every
write carries the version of the page it came from, as a browser's would.

Afterwards it checks, from the answers and the store:
- server errors: answers ≥ 500 or failed connections (must be 0);
- lost updates: two writes accepted from the same page version of one month (the second
  replaced figures its author never saw; must be 0);
- duplicate approvals: two approval events of one submission with no submit between
  them (must be 0);
- unaccounted version steps: a month whose version differs from the steps its accepted
  writes took (a save 1, a submit with figures 2, a decision 1; must be 0);
- the audit chain is intact.

Usage: .venv/bin/python bench/drill_concurrency.py [--seconds 60] [--units 3] [--workers 2]
       [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pyotp
from sqlalchemy import select

from hrss.audit.service import verify
from hrss.audit.tables import AuditEvent
from hrss.auth.service import create_user
from hrss.db import make_engine, transaction
from hrss.monitoring.tables import Submission
from hrss.plan.store import prepare_store
from hrss.settings import Settings

PASSWORD = "Xuzhou-2025-plan!"
UNITS = ["沛县", "丰县", "睢宁县", "新沂市", "邳州市", "鼓楼区"]
PERIODS = ["2024-03", "2024-04"]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="([^"]*)"')
TOTP_SECRET = re.compile(r'data-secret="totp">([^<]+)</code>')
SUB_LINK = re.compile(r'href="/review/(\d+)"')
STEPS = {"save": 1, "submit": 2, "approve": 1, "return": 1, "reopen": 1}


@dataclass
class Write:
    key: tuple[str, str] | int  # (unit, period) for an operator, submission id for a reviewer
    action: str
    version_seen: int
    status: int


@dataclass
class Log:
    writes: list[Write] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Person:
    """One signed-in browser; a statistician (a privileged role) enrols its second factor at
    this first sign-in, computing the code from the secret the page shows, as an app would."""

    def __init__(self, base: str, username: str, log: Log) -> None:
        self.client = httpx2.Client(base_url=base, timeout=60, follow_redirects=False)
        self.log = log
        form = self.get("/login")
        done = self.client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": TOKEN.search(form.text).group(1),
                                                "next": "/"})
        if done.status_code != 303:
            raise RuntimeError(f"{username}: sign-in answered {done.status_code}")
        if done.headers["location"].startswith("/account/mfa"):
            page = self.get("/account/mfa")
            secret = TOTP_SECRET.search(page.text)
            if page.status_code != 200 or secret is None:
                raise RuntimeError(f"{username}: no enrolment page ({page.status_code})")
            code = pyotp.TOTP(secret.group(1).replace(" ", "")).now()
            enrolled = self.post("/account/mfa/enrol", data={"code": code, "csrf_token": TOKEN.search(page.text).group(1)})
            if enrolled.status_code != 200:
                raise RuntimeError(f"{username}: enrolment answered {enrolled.status_code}")

    def get(self, url: str, **params: str) -> httpx2.Response:
        return self._call("GET", url, params=params)

    def post(self, url: str, data: dict[str, str]) -> httpx2.Response:
        return self._call("POST", url, data=data)

    def _call(self, method: str, url: str, **kw: object) -> httpx2.Response:
        with self.log.lock:
            self.log.requests += 1
        try:
            r = self.client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx2.HTTPError as exc:
            self.log.error(f"{method} {url}: {exc!r}")
            raise
        if r.status_code >= 500:
            self.log.error(f"{method} {url}: {r.status_code}")
        return r


def operator(person: Person, unit: str, deadline: float, rng: random.Random) -> None:
    while time.monotonic() < deadline:
        period = rng.choice(PERIODS)
        try:
            page = person.get("/entry", org=unit, period=period)
            if page.status_code != 200 or "disabled" in page.text.split('name="value__I01"', 1)[-1].split(">", 1)[0]:
                time.sleep(rng.uniform(0, 0.05))
                continue  # locked or awaiting review: nothing to type
            seen = int(VERSION.search(page.text).group(1) or 0)
            action = "submit" if rng.random() < 0.3 else "save"
            time.sleep(rng.uniform(0, 0.03))  # typing
            r = person.post("/entry", {
                "csrf_token": TOKEN.search(page.text).group(1), "org": unit, "period": period, "version": str(seen),
                "action": action, "comment": "演练" if action == "submit" else "",
                "value__I01": str(rng.randint(100, 400)), "value__I04": str(rng.randint(20, 80)),
            })
            person.log.add(Write((unit, period), action, seen, r.status_code))
        except httpx2.HTTPError:
            time.sleep(0.1)


def statistician(person: Person, deadline: float, rng: random.Random) -> None:
    known: set[int] = set()
    while time.monotonic() < deadline:
        try:
            listed = [int(i) for i in SUB_LINK.findall(person.get("/review").text)]
            known.update(listed)
            if not known:
                time.sleep(0.05)
                continue
            sub_id = rng.choice(listed) if listed and rng.random() < 0.8 else rng.choice(sorted(known))
            page = person.get(f"/review/{sub_id}")
            if page.status_code != 200:
                continue
            found = VERSION.search(page.text)
            if not found:
                continue
            seen = int(found.group(1))
            if "已审核" in page.text and 'value="reopen"' in page.text:
                action = "reopen" if rng.random() < 0.5 else ""
            else:
                action = "approve" if rng.random() < 0.6 else "return"
            if not action:
                continue
            time.sleep(rng.uniform(0, 0.03))  # reading
            r = person.post(f"/review/{sub_id}", {"csrf_token": TOKEN.search(page.text).group(1), "version": str(seen), "action": action,
                                                  "comment": "" if action == "approve" else "请核实"})
            person.log.add(Write(sub_id, action, seen, r.status_code))
        except httpx2.HTTPError:
            time.sleep(0.1)


def prepare(url: str, units: list[str]) -> list[tuple[str, str | None]]:
    """A fresh store with two operators per unit and two statisticians; returns (username, unit)."""
    engine = make_engine(url)
    plan = prepare_store(engine)
    settings = Settings(database_url=url)
    people: list[tuple[str, str | None]] = []
    with transaction(engine) as s:
        for i, unit in enumerate(units):
            for tab in "ab":
                name = f"op{i}{tab}"
                create_user(s, username=name, display_name=name, role="district_operator", org_unit=unit, plan=plan,
                            settings=settings, password=PASSWORD)
                people.append((name, unit))
        for name in ("tongji1", "tongji2"):
            create_user(s, username=name, display_name=name, role="city_statistician", org_unit=None, plan=plan,
                        settings=settings, password=PASSWORD)
            people.append((name, None))
    engine.dispose()
    return people


def check(url: str, log: Log) -> dict[str, object]:
    """The invariants, from the answers and the store."""
    engine = make_engine(url)
    with transaction(engine) as s:
        subs = {sid: (unit, period, version) for sid, unit, period, version in
                s.execute(select(Submission.id, Submission.org_unit, Submission.period, Submission.version))}
        events = list(s.execute(select(AuditEvent.object_id, AuditEvent.action)
                                .where(AuditEvent.object_type == "submission", AuditEvent.object_id.is_not(None))
                                .order_by(AuditEvent.id)))
        chain = verify(s)
    engine.dispose()
    by_key = {(unit, period): sid for sid, (unit, period, _) in subs.items()}
    accepted = [w for w in log.writes if w.status == 303]
    groups: Counter[tuple[int | tuple[str, str], int]] = Counter()
    steps: Counter[int] = Counter()
    for w in accepted:
        sid = w.key if isinstance(w.key, int) else by_key.get(w.key, -1)
        groups[(sid, w.version_seen)] += 1
        steps[sid] += STEPS[w.action]
    lost = sum(n - 1 for n in groups.values() if n > 1)
    approvals_since_submit: dict[int, int] = defaultdict(int)
    duplicate = 0
    for sid, action in events:
        if action == "submission.submitted":
            approvals_since_submit[int(sid)] = 0
        elif action == "submission.approve":
            approvals_since_submit[int(sid)] += 1
            duplicate += approvals_since_submit[int(sid)] > 1
    unaccounted = sum(1 for sid, (_, _, version) in subs.items() if version != steps.get(sid, 0))
    answers = Counter(f"{w.action} {w.status}" for w in log.writes)
    return {
        "requests": log.requests, "writes": len(log.writes), "accepted": len(accepted), "answers": dict(sorted(answers.items())),
        "submissions": len(subs), "server_errors": len(log.errors), "lost_updates": lost,
        "duplicate_approvals": duplicate, "unaccounted_version_steps": unaccounted, "audit_chain_breaks": len(chain),
        "first_errors": log.errors[:5],
    }


def run_drill(url: str | None = None, *, seconds: float = 60, units: int = 3, workers: int = 2, seed: int = 1) -> dict[str, object]:
    """Run the drill against a fresh store at url (a temporary SQLite file when None)."""
    tmp = tempfile.mkdtemp(prefix="hrss-drill-")
    url = url or f"sqlite:///{tmp}/hrss.sqlite3"
    people = prepare(url, UNITS[:units])
    port = free_port()
    env = {**os.environ, "HRSS_DATABASE_URL": url, "HRSS_REPORT_DIR": f"{tmp}/reports", "HRSS_MFA_KEY_FILE": f"{tmp}/mfa.key"}
    server = subprocess.Popen([sys.executable, "-m", "hrss.cli", "serve", "--port", str(port), "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx2.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        log = Log()
        signed = [(Person(base, name, log), unit) for name, unit in people]
        deadline = time.monotonic() + seconds
        rng = random.Random(seed)
        threads = [
            threading.Thread(target=operator, args=(p, unit, deadline, random.Random(rng.random())))
            if unit else threading.Thread(target=statistician, args=(p, deadline, random.Random(rng.random())))
            for p, unit in signed
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p, _ in signed:
            p.client.close()
    finally:
        server.terminate()
        try:
            _, stderr = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    result = check(url, log)
    result["backend"] = make_engine(url).dialect.name
    result["seconds"], result["units"], result["workers"] = seconds, units, workers
    if result["server_errors"]:
        result["server_log_tail"] = stderr[-2000:]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--units", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    result = run_drill(args.database_url, seconds=args.seconds, units=args.units, workers=args.workers)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    bad = [k for k in ("server_errors", "lost_updates", "duplicate_approvals", "unaccounted_version_steps", "audit_chain_breaks")
           if result[k]]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
