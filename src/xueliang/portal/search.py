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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt
from pypinyin import Style, pinyin

T9_KEYS = {"2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv", "9": "wxyz"}
_T9 = str.maketrans({letter: digit for digit, letters in T9_KEYS.items() for letter in letters})
_TOKENS = re.compile(r"[\u3400-\u9fff]+|[A-Za-z]+|[0-9]")  # each digit counts: 12345 is t9 12345
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
    character (polyphones). A Latin word counts as one syllable spelled as written, each digit as one
    (the 12345 hotline is found by typing 1-2-3-4-5)."""
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
class _TextKeys:
    """Keys of any script, NUL-separated in one string: found with `str.find` (Chinese titles and
    English, where a query has few hits)."""

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

    def find(self, needle: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
        """The items of the keys holding the needle, and whether it stands at the key's start."""
        text, starts, owners = self.text, self.starts, self.owners
        found: list[int] = []
        at_start: list[bool] = []
        pos = text.find(needle)
        while pos >= 0:
            k = bisect_right(starts, pos) - 1
            found.append(owners[k])
            at_start.append(pos == starts[k])
            nxt = starts[k + 1] if k + 1 < len(starts) else len(text)
            pos = text.find(needle, nxt)  # the rest of this key adds nothing: go to the next key
        return np.array(found, dtype=np.int32), np.array(at_start, dtype=np.bool_)


_Ints = npt.NDArray[np.signedinteger[Any]]


class _AsciiKeys:
    """Latin or digit keys (pinyin, initials, T9 digits) as one byte matrix, a key a row padded with
    NUL, and for each byte value where it occurs. A query starts from the places of its first byte and
    narrows them byte by byte, all in numpy: a one-digit T9 query that hits most of 10,000 items costs
    about as much as a precise one."""

    WIDTH = 64  # longer keys are cut (64 letters of pinyin, 64 initials)

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._owners: list[int] = []
        self.matrix: npt.NDArray[np.uint8] = np.zeros((0, 1), dtype=np.uint8)
        self.owners: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.places: dict[int, tuple[_Ints, _Ints]] = {}

    def add(self, key: str, owner: int) -> None:
        raw = key.encode("ascii", "ignore")[: self.WIDTH]
        if raw:
            self._keys.append(raw)
            self._owners.append(owner)

    def freeze(self) -> None:
        width = max((len(k) for k in self._keys), default=1) + 1  # one NUL at least: a match stops there
        packed = b"".join(k.ljust(width, b"\0") for k in self._keys)
        self.matrix = np.frombuffer(packed, dtype=np.uint8).reshape(len(self._keys), width)
        self.owners = np.array(self._owners, dtype=np.int32)
        rows, cols = np.nonzero(self.matrix)
        values = self.matrix[rows, cols]
        order = np.argsort(values, kind="stable")
        rows, cols, values = rows[order].astype(np.int32), cols[order].astype(np.int32), values[order]
        bounds = np.searchsorted(values, np.arange(257))
        for byte in np.unique(values):
            lo, hi = bounds[byte], bounds[byte + 1]
            self.places[int(byte)] = (rows[lo:hi], cols[lo:hi])
        self._keys, self._owners = [], []

    def find(self, needle: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
        raw = needle.encode("ascii", "ignore")
        empty = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.bool_))
        if not raw or len(raw) != len(needle) or raw[0] not in self.places:
            return empty
        rows, cols = self.places[raw[0]]
        width = self.matrix.shape[1]
        for j, byte in enumerate(raw[1:], start=1):
            fits = cols + j < width
            rows, cols = rows[fits], cols[fits]
            keep = self.matrix[rows, cols + j] == byte
            rows, cols = rows[keep], cols[keep]
            if rows.size == 0:
                return empty
        return self.owners[rows], cols == 0


MATCHES = ("t9", "initials", "pinyin", "text", "english")  # a lower one wins a tie of rank
_NONE = np.int32(1 << 30)


class SearchIndex:
    """Immutable once built; a content change builds a new one (see `IndexCache`)."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = list(entries)
        self.t9 = _AsciiKeys()
        self.initials = _AsciiKeys()
        self.full = _AsciiKeys()
        self.han = _TextKeys()
        self.english = _TextKeys()
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
        count = len(self.entries)
        # ties in rank: shorter titles first, then kind and id (the order of `position`)
        order = sorted(
            range(count), key=lambda i: (len(self.entries[i].title), self.entries[i].kind, self.entries[i].id)
        )
        self.position = np.empty(count, dtype=np.int64)
        self.position[order] = np.arange(count, dtype=np.int64)
        self.kinds = sorted({e.kind for e in self.entries})
        self.kind_of = np.array([self.kinds.index(e.kind) for e in self.entries], dtype=np.int8)
        self.expires = np.array(
            [e.expires.timestamp() if e.expires is not None else np.inf for e in self.entries],
            dtype=np.float64,
        )

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
        best = np.full(len(self.entries), _NONE, dtype=np.int32)

        def scan(
            keys: _AsciiKeys | _TextKeys, needle: str, match: str, rank_start: int, rank_inside: int
        ) -> None:
            owners, at_start = keys.find(needle)
            if owners.size:
                code = MATCHES.index(match)
                scores = np.where(at_start, rank_start * 8 + code, rank_inside * 8 + code).astype(np.int32)
                np.minimum.at(best, owners, scores)

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
        mask = best < _NONE
        if kinds is not None:
            mask &= np.isin(self.kind_of, [self.kinds.index(k) for k in kinds if k in self.kinds])
        if now is not None:
            mask &= self.expires > now.timestamp()
        found = np.nonzero(mask)[0]
        total = int(found.size)
        order_keys = best[found].astype(np.int64) * (len(self.entries) + 1) + self.position[found]
        if total > limit:
            top = np.argpartition(order_keys, limit - 1)[:limit]
            found, order_keys = found[top], order_keys[top]
        ranked = found[np.argsort(order_keys, kind="stable")]
        hits = []
        for n in ranked.tolist():
            score = int(best[n])
            hits.append(Hit(self.entries[n], MATCHES[score % 8], score // 8))
        return hits, total


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
