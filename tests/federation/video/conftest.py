"""Three real nodes of the seed county (county, township 清溪镇, village 上坪村) joined for video, the
village pulling two cameras of the session's simulator and recording them (nodes.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.federation.video import nodes
from tests.federation.video.nodes import Federation
from tests.support.node import Simulator


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, simulator: Simulator) -> Iterator[Federation]:
    fed = nodes.start(tmp_path_factory.mktemp("federation"), simulator.port, recording=("village",))
    try:
        yield fed
    finally:
        nodes.stop(fed)
