from __future__ import annotations

from collections.abc import Iterator

import pytest

from exams import clock
from exams.models import Attempt
from monitor.models import PhoneDevice
from tests.exams.helpers import make_attempt, start_attempt


@pytest.fixture(autouse=True)
def _unfreeze_clock() -> Iterator[None]:
    yield
    clock.unfreeze()


@pytest.fixture
def attempt(db: None) -> Attempt:
    return make_attempt()


@pytest.fixture
def device(attempt: Attempt) -> PhoneDevice:
    return PhoneDevice.objects.create(attempt=attempt, kind=PhoneDevice.Kind.MINIPROGRAM)


@pytest.fixture
def running_device(attempt: Attempt) -> PhoneDevice:
    """A phone of an attempt that has started (in_progress): flags become incidents."""
    start_attempt(attempt)
    return PhoneDevice.objects.create(attempt=attempt, kind=PhoneDevice.Kind.MINIPROGRAM)
