"""Shared fixtures. No test reaches a model provider: models are scripted or loopback."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.pop("SMOLKERNEL_MODEL", None)


import pytest  # noqa: E402


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Docker image build now when some collected test needs it, so it overlaps other tests."""
    if any("docker_image" in getattr(item, "fixturenames", ()) for item in session.items):
        from docker_support import prepare_in_background

        prepare_in_background()


@pytest.fixture(scope="session")
def docker_image() -> str:
    """The smolkernel Docker image, built once per session (a few minutes the first time on a machine)."""
    from docker_support import docker_image as ensure

    return ensure()
