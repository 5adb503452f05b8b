"""Fixtures shared by every tier: real servers started per session, test media made on demand."""

import pytest

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.sqs",
    "tests.fixtures.envoy",
    "tests.fixtures.s3",
    "tests.fixtures.media",
    "tests.fixtures.jwks",
    "tests.fixtures.mesh_pki",
    "tests.fixtures.browser",
]
pytest_plugins.append("tests.fixtures.platform")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `big_upload` build objects of many GiB: they run only when `-m` names them."""
    if "big_upload" in (config.option.markexpr or ""):
        return
    big = [item for item in items if item.get_closest_marker("big_upload") is not None]
    if big:
        config.hook.pytest_deselected(items=big)
        items[:] = [item for item in items if item.get_closest_marker("big_upload") is None]
