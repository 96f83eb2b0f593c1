"""The editor form offers only the departments the editor may use; services name their department in
English too (the seed gives English department names)."""

from __future__ import annotations

from typing import Any

from tests.portal.test_access import dept_id
from tests.support.alarms import Login


async def test_editable_departments_and_english_department_names(plogin: Login, portal_app: Any) -> None:
    editor, admin, resident = await plogin("editor-rsj"), await plogin("admin"), await plogin("res-v01")
    rsj = await dept_id(admin, "人力资源和社会保障局")
    everything = (await admin.get("/api/v1/portal/departments", params={"limit": 200})).json()
    assert everything["total"] >= 60
    # the editor's form: only their department; the county's editor (admin): all; a resident: none
    mine = (await editor.get("/api/v1/portal/departments", params={"limit": 200, "editable": True})).json()
    assert [d["id"] for d in mine["items"]] == [rsj] and mine["total"] == 1
    county = (await admin.get("/api/v1/portal/departments", params={"limit": 200, "editable": True})).json()
    assert county["total"] == everything["total"]
    none = (await resident.get("/api/v1/portal/departments", params={"editable": True})).json()
    assert none == {"items": [], "total": 0}
    # reading without `editable` is unchanged for everyone
    assert (await editor.get("/api/v1/portal/departments", params={"limit": 200})).json() == everything

    listed = (await resident.get("/api/v1/portal/services", params={"department_id": rsj, "limit": 1})).json()
    brief = listed["items"][0]
    dept = (await resident.get(f"/api/v1/portal/departments/{rsj}")).json()
    assert dept["name_en"] and brief["department"] == dept["name"]
    assert brief["department_en"] == dept["name_en"]
    detail = (await resident.get(f"/api/v1/portal/services/{brief['id']}")).json()
    assert detail["department_en"] == dept["name_en"]
