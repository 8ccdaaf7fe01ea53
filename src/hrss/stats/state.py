"""What a computation keeps for the next one, so that one new month does not rescan five years.

A run over the whole plan period (or an incremental run that could use the state) leaves
in `<ledger dir>/_state/`:

- `state.json`: the months covered (up to `last`), a fingerprint of the measures and org
  units, and every measure's counts per (org unit, month) — small: units × months;
- `firsts/<measure>/fm=<month>/…parquet`: for measures that count a person once
  (first_in_year, first_ever), every (person key, org unit, year, month first counted),
  partitioned by that month, so that a later run drops and rewrites only its own months;
- `persons_ok.parquet`: the register's valid ID numbers, reused while persons.parquet and
  the day are the same.

An incremental run from month S uses the state when it covers every month before S with
the same measures and units: history measures then read only the rows of months ≥ S (and
spells ending in them), take the counts before S from `state.json`, and check persons
against the stored firsts instead of re-reading their history. Months before S are taken
as settled; after a correction to older rows, run a full recompute (no --since), which
rewrites the state. Without a usable state an incremental run re-reads the history it needs
(slower, same values) and leaves no state behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from hrss.diskio import atomic_write, is_temp, remove, writing
from hrss.stats.definitions import Measure

STATE_DIR = "_state"
MANIFEST = "state.json"
LOCK = "lock"
KEEP = "保存统计状态"  # the step named in a disk error (keeping the state for the next run)


def measure_id(m: Measure) -> str:
    """A short stable name for a measure, from everything that changes what it counts."""
    text = "|".join(str(x) for x in (m.kind, m.ledger, m.where, m.date, m.end, m.column))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def fingerprint(measures: Iterable[Measure], units: Iterable[str]) -> str:
    text = ";".join(sorted({measure_id(m) for m in measures})) + "#" + ",".join(units)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


Counts = dict[tuple[str, int], int]


class StateBusy(RuntimeError):
    pass


class State:
    """The state folder of one ledger folder."""

    def __init__(self, ledger_dir: Path) -> None:
        self.dir = ledger_dir / STATE_DIR
        self.manifest = self.dir / MANIFEST

    @contextmanager
    def locked(self, wait: bool = False) -> Iterator[None]:
        """Hold the folder's state for one run; a second run at the same time is refused
        (or, with wait, waited for: `hrss db backup`) rather than left to interleave its
        writes with this one's. A folder that cannot be written is a DiskError at once."""
        with writing(self.dir, KEEP):
            self.dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.dir / LOCK, "w")  # noqa: SIM115 (held below)
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError as exc:
                raise StateBusy(
                    f"{self.dir.parent}: 另一个统计计算正在使用该台账目录，请待其结束后再试 "
                    "(another computation is using this ledger folder; try again when it ends)"
                ) from exc
            try:
                for left in self.dir.rglob(".*.tmp-*"):  # a run killed mid-write; nobody else writes now
                    remove(left)
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def files(self) -> list[Path]:
        """Every file of the state (what a backup keeps): not the lock, not temporary files."""
        if not self.dir.is_dir():
            return []
        return sorted(
            f for f in self.dir.rglob("*")
            if f.is_file() and f != self.dir / LOCK and not any(is_temp(p) for p in (f, *f.relative_to(self.dir).parents))
        )  # fmt: skip

    # --- counts and coverage --------------------------------------------------------

    def history(self, fp: str, first: int) -> dict[str, Counts] | None:
        """The stored counts (measure id → counts of months before `first`) if the state
        covers every month before `first` for these measures and units; else None."""
        try:
            data = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("fingerprint") != fp or int(data.get("last", -1)) < first - 1:
            return None
        return {
            mid: {(u, m): n for u, m, n in rows if m < first} for mid, rows in data.get("counts", {}).items()
        }

    def invalidate(self) -> None:
        """Forget the coverage (the firsts stay on disk but are not trusted without a manifest)."""
        with writing(self.manifest, KEEP):
            self.manifest.unlink(missing_ok=True)

    def save(self, fp: str, last: int, counts: dict[str, Counts]) -> None:
        """Record the coverage, after the firsts are written (written last, atomically)."""
        with writing(self.dir, KEEP):
            self.dir.mkdir(parents=True, exist_ok=True)
        rows = {mid: sorted([u, m, n] for (u, m), n in c.items() if n) for mid, c in counts.items()}
        # whole or not at all: a temporary name beside it, fsync, rename (none left on failure)
        atomic_write(self.manifest, json.dumps({"fingerprint": fp, "last": last, "counts": rows}), KEEP)

    # --- firsts ---------------------------------------------------------------------

    def firsts_dir(self, mid: str) -> Path:
        return self.dir / "firsts" / mid

    def firsts_files(self, mid: str, lo: int, hi: int) -> list[Path]:
        """The files of the measure's stored firsts of months lo ≤ month < hi."""
        return sorted(
            f for part in self.firsts_dir(mid).glob("fm=*") if lo <= int(part.name[3:]) < hi for f in part.glob("*.parquet")
        )

    def drop_firsts(self, mid: str, since: int | None) -> None:
        """Remove the measure's firsts of months ≥ since (all of them when since is None)."""
        folder = self.firsts_dir(mid)
        if since is None:
            shutil.rmtree(folder, ignore_errors=True)
            return
        with writing(folder, KEEP):
            for part in folder.glob("fm=*"):
                if int(part.name[3:]) >= since:
                    shutil.rmtree(part)

    # --- the person register --------------------------------------------------------

    def persons_cache(self, register: Path, today: date) -> tuple[Path, bool]:
        """(path of the cached valid IDs, whether it matches this register and day)."""
        path, stamp = self.dir / "persons_ok.parquet", self.dir / "persons_ok.key"
        ok = path.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == _register_key(register, today)
        return path, ok

    def persons_cached(self, register: Path, today: date) -> None:
        """Mark the cached valid IDs as those of this register and day."""
        atomic_write(self.dir / "persons_ok.key", _register_key(register, today), KEEP)


def _register_key(register: Path, today: date) -> str:
    """What the valid IDs depend on: the register file (size, time written) and the day."""
    st = register.stat()
    return f"{st.st_size}:{st.st_mtime_ns}:{today.isoformat()}"
