"""The grid's refusals come from one catalogue (grid/errors.py) and the pages have words for each in
both languages: every catalogued key that carries a `key` in its answer has an entry in
static/js/grid/errors.js with the same parameters, and every text there is translated in the zh-CN
catalogue. The answers carry `key` and `params`; a missing object is still answered with only code
and message, exactly like the rest of the platform. (The browser shows them: test_grid_web.py in
Chinese, test_terminals.py in English.)"""

from __future__ import annotations

import re
from datetime import date, timedelta

from babel.messages.pofile import read_po
from tests.grid.test_bad_input import route_body
from tests.support.alarms import Login

from xueliang.grid.errors import CATALOGUE, PLAIN
from xueliang.web.i18n import LOCALE_DIR
from xueliang.web.views import STATIC_DIR

API = "/api/v1/grid"
ENTRY = re.compile(r'^\s*"([\w.]+)": \(p\) => t\("((?:[^"\\]|\\.)*)"', re.MULTILINE)


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_every_keyed_refusal_has_words_in_both_languages() -> None:
    js = dict(ENTRY.findall((STATIC_DIR / "js" / "grid" / "errors.js").read_text(encoding="utf-8")))
    keyed = {k for k, r in CATALOGUE.items() if k not in PLAIN and r.code != "not_found"}
    assert set(js) == keyed
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        zh = read_po(fh)
    for key, msgid in js.items():
        assert placeholders(msgid) == placeholders(CATALOGUE[key].text), key
        entry = zh.get(msgid)
        assert entry is not None and entry.string, f"no zh-CN text for {msgid!r}"
        assert placeholders(str(entry.string)) == placeholders(msgid), msgid


async def test_answers_carry_the_key_and_params(glogin: Login) -> None:
    duty = await glogin("duty-v01")
    village = (await duty.get(f"{API}/routes")).json()[0]["region_id"]
    body = {**await route_body(duty, village), "days": []}
    r = await duty.post(f"{API}/routes", json=body)
    assert r.status_code == 400 and r.json() == {
        "code": "no_days",
        "message": "a route runs on at least one day",
        "key": "route.no_days",
        "params": {},
    }
    today = date(2026, 12, 7)
    r = await duty.get(
        f"{API}/stats", params={"since": today.isoformat(), "until": (today - timedelta(1)).isoformat()}
    )
    assert r.status_code == 400 and r.json()["key"] == "stats.bad_range"
    r = await duty.get(f"{API}/routes/999999")
    assert r.status_code == 404 and r.json() == {"code": "not_found", "message": "route not found"}
