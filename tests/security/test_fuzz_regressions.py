"""What the schema fuzzer (test_fuzz_schemathesis.py) found, each a test that fails without its fix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.support import db
from xueliang.api import ErrorOut

# Both bugs were in Python (a null written as is, a body model too narrow): the SQLite pass runs them.
pytestmark = pytest.mark.skipif(db.BACKEND != "sqlite", reason="backend-independent fixes: SQLite pass")


async def test_a_department_patch_with_nulls_changes_nothing_instead_of_a_500(
    login: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    """PATCH /portal/admin/departments/{id} with `"duties": null` (any field null) wrote NULL into a
    NOT NULL column: an IntegrityError, a 500 (found as admin, 2026-12-07). Null is "no change", as
    for services."""
    admin = await login("admin")
    dept = (await admin.get("/api/v1/portal/departments")).json()["items"][0]
    before = (await admin.get(f"/api/v1/portal/departments/{dept['id']}")).json()
    nulls = dict.fromkeys(("name", "name_en", "phones", "address", "hours", "duties", "duties_en"))
    r = await admin.patch(f"/api/v1/portal/admin/departments/{dept['id']}", json=nulls)
    assert r.status_code == 200, r.text
    after = (await admin.get(f"/api/v1/portal/departments/{dept['id']}")).json()
    assert {k: after[k] for k in before if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


async def test_an_import_refusal_matches_the_documented_error_body(
    login: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    """A refused portal import names the lines at fault (`errors: [{line, message}]`), which the
    documented 4XX body (`api.ErrorOut`) did not allow: only `field` problems (found as an editor)."""
    editor = await login("editor")
    r = await editor.post("/api/v1/portal/admin/import/jobs?format=json", content=b"not json")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["line"] == 1
    ErrorOut.model_validate(r.json(), strict=True)
