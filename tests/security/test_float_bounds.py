"""NaN and Infinity in every float of every request body (issue 14, item 10), the half that the JSON
guard (core/json_guard.py) cannot see: pydantic's lax `float` also reads the *strings* "nan", "inf"
and "1e999", which are plain JSON strings. A bounded field (`ge`/`le`, `gt`/`lt`) refuses them all
(every comparison with NaN is false, infinity is past any bound), so every number in every request
body schema of the API must carry a bound on both sides. Read from the OpenAPI, so routes added later
are held to it too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from tests.support.app import make_settings
from xueliang.app import create_app

# Known and reported, to be bounded by their owners; do not add to this list, bound the field.
UNBOUNDED_KNOWN: set[tuple[str, str, str]] = set()


def _numbers(
    schema: dict[str, Any], components: dict[str, Any], path: str, depth: int = 0
) -> Iterator[tuple[str, dict[str, Any]]]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if depth > 8:
        return
    if schema.get("type") == "number":
        yield path, schema
    for alternative in [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]:
        yield from _numbers(alternative, components, path, depth + 1)
    for name, sub in schema.get("properties", {}).items():
        yield from _numbers(sub, components, f"{path}.{name}".lstrip("."), depth + 1)
    if schema.get("type") == "array" and "items" in schema:
        yield from _numbers(schema["items"], components, f"{path}.0".lstrip("."), depth + 1)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _numbers(extra, components, f"{path}.*".lstrip("."), depth + 1)


def test_every_number_in_a_request_body_is_bounded(tmp_path: Path) -> None:
    app = create_app(
        make_settings(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", tmp_path), migrate_on_start=False
    )
    spec = app.openapi()
    components = spec.get("components", {}).get("schemas", {})
    unbounded: set[tuple[str, str, str]] = set()
    seen = 0
    for route, operations in spec["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for path, number in _numbers(content.get("schema", {}), components, ""):
                    seen += 1
                    low = "minimum" in number or "exclusiveMinimum" in number
                    high = "maximum" in number or "exclusiveMaximum" in number
                    if not (low and high):
                        unbounded.add((method.upper(), route, path))
    assert seen > 10  # cameras, grid, portal...
    assert unbounded <= UNBOUNDED_KNOWN, (
        f"bound these numbers (Field(ge=..., le=...)): {unbounded - UNBOUNDED_KNOWN}"
    )


class Bounded(BaseModel):
    lat: float = Field(ge=-90, le=90)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity", "1e999", float("nan"), float("inf")])
def test_a_bounded_float_refuses_nan_and_infinity_in_any_form(value: object) -> None:
    with pytest.raises(ValidationError):
        Bounded.model_validate({"lat": value})
    with pytest.raises(ValidationError):
        Bounded.model_validate_json(f'{{"lat": "{value}"}}')
