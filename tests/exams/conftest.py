from __future__ import annotations

from collections.abc import Iterator

import pytest

from exams import clock


@pytest.fixture(autouse=True)
def _real_clock_after_each_test() -> Iterator[None]:
    yield
    clock.unfreeze()
