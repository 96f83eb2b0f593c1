"""The typed service registry: one service per class, a missing one named in the error."""

from __future__ import annotations

import pytest

from xueliang.core.services import MissingService, Services


class Engine:
    pass


class Streams:
    def urls(self) -> list[str]:
        raise NotImplementedError


class Plane(Streams):
    def urls(self) -> list[str]:
        return ["ws"]


def test_registered_by_class_and_by_a_base_it_serves_as() -> None:
    services = Services()
    plane = services.add(Plane())
    services.add(plane, Streams)
    assert services.require(Plane) is plane and services.require(Streams).urls() == ["ws"]
    assert services.get(Engine) is None


def test_missing_and_duplicate_services_are_errors() -> None:
    services = Services()
    with pytest.raises(MissingService, match="no Engine runs in this app"):
        services.require(Engine)
    services.add(Engine())
    with pytest.raises(ValueError, match="already registered"):
        services.add(Engine())
