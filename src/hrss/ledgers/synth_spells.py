"""Insurance enrolment spells (参保缴费状态区间) for the synthetic ledgers (`hrss.ledgers.synth`).

For each org unit and insurance the number enrolled at every month's end is given (the
city's figure × the register's sampling fraction), and so is the paying share. The unit's
residents enrol from the end-2020 stock on: each month some leave (their spell ends),
joiners enrol paying, and payment is suspended or resumed (one spell ends, the next starts
the same day) until the month's end has the given numbers. A person is enrolled in an
insurance at most once, spells never overlap, and nobody is enrolled before turning 16.

Spells are held as compact arrays (a few bytes each) and ordered by Arrow's stable sort, so
even the city scale holds no row dicts.
"""

from __future__ import annotations

import heapq
import random
from array import array
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss.ledgers.synth_params import COVERS, EARLIER_CHANGE, ENROLLED_FROM, PERIOD_START, STATUS

PAYING, SUSPENDED = 0, 1


def _sixteen(id_number: str) -> date:
    born = id_number[6:14]
    return date(int(born[:4]) + 16, int(born[4:6]), int(born[6:8]))


class _Spells:
    """All spells drawn so far: start and end (ordinals, 0 = open), person, unit, insurance, status."""

    def __init__(self) -> None:
        self.starts, self.ends, self.people = array("i"), array("i"), array("i")
        self.units, self.covers, self.states = array("b"), array("b"), array("b")

    def add(self, start: date, person: int, unit: int, cover: int, status: int, end: date | None = None) -> int:
        self.starts.append(start.toordinal())
        self.ends.append(end.toordinal() if end else 0)
        self.people.append(person)
        self.units.append(unit)
        self.covers.append(cover)
        self.states.append(status)
        return len(self.starts) - 1


class _Enrolment:
    """One unit's enrolment in one insurance: the open spells, paying and suspended."""

    def __init__(self, rng: random.Random, spells: _Spells, pool: list[str], offset: int, unit: int, cover: int) -> None:
        self.rng, self.spells, self.pool = rng, spells, pool
        self.offset, self.unit, self.cover = offset, unit, cover
        self.open = (array("i"), array("i"))  # spell indexes by status
        self.order = list(range(len(pool)))
        rng.shuffle(self.order)
        self.next = 0
        self.young: list[tuple[int, int]] = []  # (16th birthday, position): drawn before they could enrol

    def __len__(self) -> int:
        return len(self.open[PAYING]) + len(self.open[SUSPENDED])

    def _person(self, by: date) -> int | None:
        """The next resident not enrolled yet who is 16 by `by`."""
        if self.young and self.young[0][0] <= by.toordinal():
            return heapq.heappop(self.young)[1]
        while self.next < len(self.order):
            pos = self.order[self.next]
            self.next += 1
            sixteen = _sixteen(self.pool[pos])
            if sixteen <= by:
                return pos
            heapq.heappush(self.young, (sixteen.toordinal(), pos))
        return None

    def start(self, status: int, end_2020: date) -> bool:
        """Enrol one person before 2021 (some with an earlier change of status)."""
        pos = self._person(end_2020)
        if pos is None:
            return False
        first = max(ENROLLED_FROM, _sixteen(self.pool[pos]))
        begun = first + timedelta(days=self.rng.randrange((end_2020 - first).days + 1))
        gap = (end_2020 - begun).days
        person = self.offset + pos
        if gap > 0 and self.rng.random() < EARLIER_CHANGE:
            change = begun + timedelta(days=1 + self.rng.randrange(gap))
            self.spells.add(begun, person, self.unit, self.cover, 1 - status, change)
            begun = change
        self.open[status].append(self.spells.add(begun, person, self.unit, self.cover, status))
        return True

    def join(self, first: date, last: date) -> bool:
        """Enrol one person, paying, on a day of the month [first, last]."""
        pos = self._person(last)
        if pos is None:
            return False
        lo = max(first, _sixteen(self.pool[pos]))
        day = lo + timedelta(days=self.rng.randrange((last - lo).days + 1))
        self.open[PAYING].append(self.spells.add(day, self.offset + pos, self.unit, self.cover, PAYING))
        return True

    def _take(self, status: int | None, first: date, last: date) -> tuple[int, date] | None:
        """An open spell (of status, or of either) and a day in [first, last] after it started:
        the spell leaves the open ones."""
        for _ in range(20):
            if status is None:
                i = self.rng.randrange(len(self))
                st = PAYING if i < len(self.open[PAYING]) else SUSPENDED
                i -= 0 if st == PAYING else len(self.open[PAYING])
            else:
                if not self.open[status]:
                    return None
                st, i = status, self.rng.randrange(len(self.open[status]))
            spells = self.open[st]
            s = spells[i]
            lo = max(first.toordinal(), self.spells.starts[s] + 1)
            if lo > last.toordinal():
                continue
            spells[i] = spells[-1]
            spells.pop()
            return s, date.fromordinal(lo + self.rng.randrange(last.toordinal() - lo + 1))
        return None

    def leave(self, first: date, last: date) -> None:
        if len(self) and (taken := self._take(None, first, last)):
            s, day = taken
            self.spells.ends[s] = day.toordinal()

    def change(self, status: int, first: date, last: date) -> None:
        """One open spell of `status` ends on a day of the month; the other status starts then."""
        if taken := self._take(status, first, last):
            s, day = taken
            self.spells.ends[s] = day.toordinal()
            other = 1 - status
            self.open[other].append(self.spells.add(day, self.spells.people[s], self.unit, self.cover, other))


def draw_spells(
    rng: random.Random,
    pools: dict[str, list[str]],
    targets: dict[tuple[str, int], list[int]],
    paying: dict[int, list[float]],
    months: list[tuple[date, date]],
) -> Iterator[dict[str, Any]]:
    """Clean spells in start_date order, record_id in that order.

    targets[(org unit code, cover index)]: enrolees at end-2020, then at the end of each month
    of `months` ((first, last) days); paying[cover index]: the paying share at the same ends."""
    end_2020 = PERIOD_START - timedelta(days=1)
    codes = list(pools)
    offsets, total = {}, 0
    for code in codes:
        offsets[code], total = total, total + len(pools[code])
    spells = _Spells()
    for (code, ci), want in targets.items():
        if code not in pools:
            continue
        cover, share = COVERS[ci], paying[ci]
        e = _Enrolment(rng, spells, pools[code], offsets[code], codes.index(code), ci)
        for _ in range(want[0]):
            if not e.start(PAYING if rng.random() < share[0] else SUSPENDED, end_2020):
                break
        churn = want[0] * cover.leave / len(months)  # leavers a month, replaced by joiners
        owed = rng.random()
        for m, (first, last) in enumerate(months, start=1):
            owed += churn
            leavers = min(int(owed), len(e))
            owed -= leavers
            joiners = want[m] - (len(e) - leavers)
            if joiners < 0:
                leavers, joiners = leavers - joiners, 0
            for _ in range(leavers):
                e.leave(first, last)
            for _ in range(joiners):
                if not e.join(first, last):
                    break
            goal = round(share[m] * len(e))
            for _ in range(abs(goal - len(e.open[PAYING]))):
                e.change(SUSPENDED if goal > len(e.open[PAYING]) else PAYING, first, last)
    yield from _rows(spells, codes, pools, offsets)


def _rows(spells: _Spells, codes: list[str], pools: dict[str, list[str]], offsets: dict[str, int]) -> Iterator[dict[str, Any]]:
    def arrow(values: array, kind: pa.DataType) -> pa.Array:
        return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])

    columns = [arrow(a, pa.int32()) for a in (spells.starts, spells.ends, spells.people)]
    columns += [arrow(a, pa.int8()) for a in (spells.units, spells.covers, spells.states)]
    order = pc.sort_indices(columns[0])  # stable: ties keep the order drawn
    record_id = 0
    for lo in range(0, len(order), 65_536):
        taken = [pc.take(c, order.slice(lo, 65_536)).to_pylist() for c in columns]
        for first_day, end_day, who, unit, insurance, state in zip(*taken, strict=True):
            record_id += 1
            code = codes[unit]
            yield {
                "record_id": record_id,
                "id_number": pools[code][who - offsets[code]],
                "org_unit": code,
                "insurance": COVERS[insurance].insurance,
                "status": STATUS[state],
                "start_date": date.fromordinal(first_day),
                "end_date": date.fromordinal(end_day) if end_day else None,
            }
