"""The pinyin/T9 search: the index on its own (polyphones, initials, full pinyin, Chinese, expiry), and
through the API, where a change of content reaches the index at once and drafts never show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.alarms import Login
from xueliang.portal.search import Entry, SearchIndex, t9_digits

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ENTRIES = [
    Entry("job", 1, "重庆火锅店服务员", subtitle="重庆鑫达餐饮"),
    Entry("service", 2, "社会保障卡申领", "Apply for social security card"),
    Entry("department", 3, "县人力资源和社会保障局"),
    Entry("service", 4, "银行开户证明", expires=None),
    Entry("job", 5, "采茶工", expires=NOW - timedelta(days=1)),
]


def ids(index: SearchIndex, **query: object) -> list[int]:
    hits, _ = index.search(now=NOW, **query)  # type: ignore[arg-type]
    return [h.entry.id for h in hits]


def test_t9_digits_follow_the_phone_keypad() -> None:
    assert t9_digits("shbzk") == "74295"
    assert t9_digits("adgjmptw") == "23456789"


def test_polyphones_match_by_every_reading() -> None:
    index = SearchIndex(ENTRIES)
    assert ids(index, t9="27") == [1]  # chong qing, as a phrase is read
    assert 1 in ids(index, t9="97")  # zhong qing: 重 read alone
    assert ids(index, q="chongqing") == [1]
    assert ids(index, q="zhongqing") == [1]
    assert ids(index, q="yinhang") == [4]  # 银行: hang, not xing
    assert 4 in ids(index, q="yinxing")  # 行 read alone


def test_initials_pinyin_and_chinese_rank_title_starts_first() -> None:
    index = SearchIndex(ENTRIES)
    assert ids(index, t9="7429") == [2, 3]  # s-h-b-z: at the start of 2, inside 3
    assert ids(index, q="shbz") == [2, 3]
    assert ids(index, q="shehuibaozhang") == [2, 3]
    assert ids(index, q="社会保障") == [2, 3]
    assert ids(index, q="security") == [2]
    assert ids(index, q="鑫达") == [1]  # the subtitle (employer) is searched as text
    assert ids(index, t9="7429", kinds=frozenset({"department"})) == [3]


def test_digits_in_titles_are_typed_as_themselves() -> None:
    index = SearchIndex(
        [Entry("department", 1, "12345政务服务便民热线"), Entry("service", 2, "G318国道通行证")]
    )
    assert ids(index, t9="12345") == [1]
    assert ids(index, t9="4318") == [2]  # g 3 1 8
    assert ids(index, q="g318gd") == [2]


def test_expired_jobs_are_not_found() -> None:
    index = SearchIndex(ENTRIES)
    assert ids(index, q="caichagong") == []
    hits, _ = index.search(q="caichagong", now=NOW - timedelta(days=2))
    assert [h.entry.id for h in hits] == [5]


async def test_search_api_finds_services_by_t9_and_sees_new_content_at_once(plogin: Login) -> None:
    resident = await plogin("res-v03")
    r = await resident.get("/api/v1/portal/search", params={"t9": "7429575"})  # 社会保障卡申领
    assert r.status_code == 200, r.text
    first = r.json()["items"][0]
    assert (first["kind"], first["title"], first["match"]) == ("service", "社会保障卡申领", "t9")
    detail = await resident.get(f"/api/v1/portal/services/{first['id']}")
    assert detail.json()["materials"][0] == "居民身份证原件"

    admin = await plogin("admin")
    dept = (await admin.get("/api/v1/portal/departments", params={"q": "民政局"})).json()["items"][0]
    made = await admin.post(
        "/api/v1/portal/admin/services",
        json={
            "code": "T-CSLR",
            "department_id": dept["id"],
            "title": "长寿老人补贴申领",
            "categories": ["elderly_care"],
        },
    )
    assert made.status_code == 201, made.text
    for t9 in ("2757", "9757"):  # chang shou lao ren; 长 is also zhang
        found = (await resident.get("/api/v1/portal/search", params={"t9": t9})).json()["items"]
        assert made.json()["id"] not in [h["id"] for h in found], "a draft must not be found"
    assert (await admin.post(f"/api/v1/portal/admin/services/{made.json()['id']}/publish")).status_code == 200
    for t9 in ("2757", "9757"):
        found = (await resident.get("/api/v1/portal/search", params={"t9": t9, "kinds": "service"})).json()
        assert made.json()["id"] in [h["id"] for h in found["items"]], t9

    bad = await resident.get("/api/v1/portal/search", params={"t9": "12a"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid"
    bad = await resident.get("/api/v1/portal/search", params={"q": "x", "kinds": "camera"})
    assert bad.status_code == 422
