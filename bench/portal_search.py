"""Portal search benchmark: T9 (and pinyin / Chinese) queries over an index of N items. Prints one
JSON object: index build time, and per query kind the p50/p95/p99/max in milliseconds (goal for T9
over 10,000 items: p95 <= 10 ms, issue 17).

Items are titles made the way the demo seed makes them (subjects x actions, departments, job titles x
cities x employers), numbered until there are N, so the index holds as many polyphones and shared
prefixes as real content would. Queries are 1 to 6 T9 digits of the initials of a random title, taken
from its start or its middle (a user types what they remember), so short queries with thousands of
hits are in the mix, as on a TV.

    .venv/bin/python bench/portal_search.py --items 10000 --queries 2000
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from datetime import UTC, datetime

from xueliang.portal.search import Entry, SearchIndex, spellings, t9_digits
from xueliang.portal.seed import ACTIONS, CITIES, DEPARTMENTS, EMPLOYER_KINDS, EMPLOYERS, JOBS, SUBJECTS


def make_entries(n: int, rng: random.Random) -> list[Entry]:
    titles: list[tuple[str, str]] = []
    for subject, *_rest in SUBJECTS:
        for zh, _en in ACTIONS.values():
            titles.append(("service", f"{subject}{zh}"))
    for _code, name, *_r in DEPARTMENTS:
        titles.append(("department", f"县{name}"))
    for title, *_r in JOBS:
        for city in CITIES:
            for employer in EMPLOYERS:
                titles.append(("job", f"{city}{employer}{title}"))
    rng.shuffle(titles)
    entries = []
    for i in range(n):
        kind, title = titles[i % len(titles)]
        if i >= len(titles):  # more items than templates: vary them as real content varies
            title = f"{title}（{EMPLOYER_KINDS[i % len(EMPLOYER_KINDS)][:2]}{i // len(titles)}）"
        entries.append(Entry(kind, i + 1, title))
    return entries


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 3),
        "p95_ms": round(percentile(values, 0.95), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
        "max_ms": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    entries = make_entries(args.items, rng)

    started = time.perf_counter()
    index = SearchIndex(entries)
    build_s = time.perf_counter() - started

    now = datetime(2026, 12, 1, tzinfo=UTC)
    t9_times: list[float] = []
    pinyin_times: list[float] = []
    text_times: list[float] = []
    hits_seen: list[int] = []
    for _ in range(args.queries):
        entry = rng.choice(entries)
        spelling = spellings(entry.title)[0]
        initials = "".join(s[0] for s in spelling)
        length = rng.randint(1, min(6, len(initials)))
        start = 0 if rng.random() < 0.7 else rng.randint(0, len(initials) - length)
        digits = t9_digits(initials[start : start + length])
        t0 = time.perf_counter()
        _hits, total = index.search(t9=digits, now=now, limit=20)
        t9_times.append((time.perf_counter() - t0) * 1000)
        hits_seen.append(total)

        word = "".join(spelling[: rng.randint(1, 3)])
        t0 = time.perf_counter()
        index.search(q=word, now=now, limit=20)
        pinyin_times.append((time.perf_counter() - t0) * 1000)

        chars = entry.title[: rng.randint(1, 3)]
        t0 = time.perf_counter()
        index.search(q=chars, now=now, limit=20)
        text_times.append((time.perf_counter() - t0) * 1000)

    print(
        json.dumps(
            {
                "items": len(index),
                "queries": args.queries,
                "build_s": round(build_s, 2),
                "t9": summary(t9_times) | {"median_hits": statistics.median(hits_seen)},
                "pinyin": summary(pinyin_times),
                "chinese": summary(text_times),
                "goal": "t9 p95 <= 10 ms",
                "machine": platform.processor() or platform.machine(),
                "python": platform.python_version(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
