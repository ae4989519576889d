"""Fixtures of the batch tests."""

import pytest
from batch_helpers import two_step_reply

from smolkernel.testing import LoopbackLLMServer


@pytest.fixture
def server():
    with LoopbackLLMServer(two_step_reply) as running:
        yield running
