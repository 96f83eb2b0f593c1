"""The portal's search index: pinyin, initials, T9 digits and Chinese text over services, departments
and jobs, built on the server with pypinyin and kept in memory.

Why on the server: a set-top box has neither the dictionary nor the memory for pypinyin, and one index
serves TV (T9 digits of the first letters), phone and PC (full pinyin, initials or Chinese) alike.
Polyphones count: each character's other readings give extra keys (重庆 is both "cq" and "zq").

Each kind of key lives in one long string (keys separated by NUL), so a query is one C-speed scan
(`str.find`) over it and a bisect from the match's offset to its item; 10,000 items stay well within
a millisecond or two per query (bench/portal_search.py)."""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import product

from pypinyin import Style, pinyin

T9_KEYS = {"2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv", "9": "wxyz"}
_T9 = str.maketrans({letter: digit for digit, letters in T9_KEYS.items() for letter in letters})
_TOKENS = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+")
_HAN = re.compile(r"[\u3400-\u9fff]")
SEP = "\x00"
MAX_VARIANTS = 24  # polyphone spellings kept per title
TTL_SECONDS = 60.0  # another process's content changes reach this one's index within this


@dataclass(frozen=True)
class Entry:
    """One searchable item; `expires` drops a job from answers once its posting ends."""

    kind: str  # service | department | job
    id: int
    title: str
    title_en: str = ""
    subtitle: str = ""
    expires: datetime | None = None


@dataclass(frozen=True)
class Hit:
    entry: Entry
    match: str  # t9 | initials | pinyin | text | english
    rank: int


@lru_cache(maxsize=8192)
def _char_readings(char: str) -> tuple[str, ...]:
    return tuple(pinyin(char, style=Style.NORMAL, heteronym=True)[0])


def syllables(text: str) -> list[list[str]]:
    """Per syllable, its readings: the phrase-aware one first, then every other reading of the
    character (polyphones). A Latin or digit word counts as one syllable spelled as written."""
    out: list[list[str]] = []
    for token in _TOKENS.findall(text):
        if not _HAN.match(token):
            out.append([token.lower()])
            continue
        phrase = pinyin(token, style=Style.NORMAL, heteronym=False)
        for char, (reading, *_) in zip(token, phrase, strict=False):
            readings = [reading]
            readings += [r for r in _char_readings(char) if r not in readings]
            out.append(readings)
    return out


def spellings(text: str) -> list[list[str]]:
    """Whole-title spellings: the usual one, each with one syllable read otherwise, and every
    combination when there are few."""
    parts = syllables(text)
    if not parts:
        return []
    base = [p[0] for p in parts]
    result = [base]
    combos = 1
    for p in parts:
        combos *= len(p)
    if combos <= 8:
        result += [list(c) for c in product(*parts)]
    else:
        for i, p in enumerate(parts):
            for alt in p[1:]:
                result.append([*base[:i], alt, *base[i + 1 :]])
    seen: set[tuple[str, ...]] = set()
    unique: list[list[str]] = []
    for s in result:
        if tuple(s) not in seen:
            seen.add(tuple(s))
            unique.append(s)
    return unique[:MAX_VARIANTS]


def t9_digits(letters: str) -> str:
    return letters.lower().translate(_T9)


@dataclass
class _Haystack:
    """All keys of one kind, NUL-separated, with each key's start and item."""

    parts: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    text: str = ""
    _length: int = 0

    def add(self, key: str, owner: int) -> None:
        if not key:
            return
        self.starts.append(self._length + 1)
        self.owners.append(owner)
        self.parts.append(SEP + key)
        self._length += len(key) + 1

    def freeze(self) -> None:
        self.text = "".join(self.parts) + SEP
        self.parts = []

    def find(self, needle: str) -> Iterable[tuple[int, bool]]:
        """(item, match at the start of its key) for every key holding the needle."""
        text, starts, owners = self.text, self.starts, self.owners
        pos = text.find(needle)
        while pos >= 0:
            k = bisect_right(starts, pos) - 1
            yield owners[k], pos == starts[k]
            nxt = starts[k + 1] if k + 1 < len(starts) else len(text)
            pos = text.find(needle, nxt)  # the rest of this key adds nothing: go to the next key


class SearchIndex:
    """Immutable once built; a content change builds a new one (see `IndexCache`)."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = list(entries)
        self.t9 = _Haystack()
        self.initials = _Haystack()
        self.full = _Haystack()
        self.han = _Haystack()
        self.english = _Haystack()
        for n, entry in enumerate(self.entries):
            seen_t9: set[str] = set()
            seen_full: set[str] = set()
            for spelling in spellings(entry.title):
                initials = "".join(s[0] for s in spelling)
                if initials not in seen_t9:
                    seen_t9.add(initials)
                    self.initials.add(initials, n)
                    self.t9.add(t9_digits(initials), n)
                full = "".join(spelling)
                if full not in seen_full:
                    seen_full.add(full)
                    self.full.add(full, n)
            self.han.add(entry.title, n)
            if entry.subtitle:
                self.han.add(entry.subtitle, n)
            if entry.title_en:
                self.english.add(entry.title_en.lower(), n)
        for hay in (self.t9, self.initials, self.full, self.han, self.english):
            hay.freeze()

    def __len__(self) -> int:
        return len(self.entries)

    def search(
        self,
        *,
        t9: str | None = None,
        q: str | None = None,
        kinds: frozenset[str] | None = None,
        now: datetime | None = None,
        limit: int = 20,
    ) -> tuple[list[Hit], int]:
        """Best hits first (a match at the start of a title before one inside it, then shorter titles),
        and how many there were in all."""
        best: dict[int, tuple[int, str]] = {}

        def scan(hay: _Haystack, needle: str, match: str, rank_start: int, rank_inside: int) -> None:
            for owner, at_start in hay.find(needle):
                rank = rank_start if at_start else rank_inside
                if owner not in best or rank < best[owner][0]:
                    best[owner] = (rank, match)

        if t9:
            scan(self.t9, t9, "t9", 0, 2)
        if q:
            needle = q.strip().lower()
            if _HAN.search(needle):
                scan(self.han, needle, "text", 0, 2)
            elif needle:
                compact = needle.replace(" ", "").replace("'", "")
                scan(self.initials, compact, "initials", 0, 2)
                scan(self.full, compact, "pinyin", 1, 3)
                if len(needle) >= 3:
                    scan(self.english, needle, "english", 3, 4)
        hits: list[Hit] = []
        for n, (rank, match) in best.items():
            entry = self.entries[n]
            if kinds is not None and entry.kind not in kinds:
                continue
            if now is not None and entry.expires is not None and entry.expires <= now:
                continue
            hits.append(Hit(entry, match, rank))
        hits.sort(key=lambda h: (h.rank, len(h.entry.title), h.entry.kind, h.entry.id))
        return hits[:limit], len(hits)


class IndexCache:
    """One index per database in this process: dropped at once when this process changes content, and
    rebuilt at least every `TTL_SECONDS` so changes made by other processes show up too."""

    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._indexes: dict[str, tuple[SearchIndex, float]] = {}

    def get(self, key: str) -> SearchIndex | None:
        found = self._indexes.get(key)
        if found is None or time.monotonic() - found[1] > self.ttl:
            return None
        return found[0]

    def put(self, key: str, index: SearchIndex) -> None:
        self._indexes[key] = (index, time.monotonic())

    def invalidate(self, key: str | None = None) -> None:
        if key is None:
            self._indexes.clear()
        else:
            self._indexes.pop(key, None)


CACHE = IndexCache()
