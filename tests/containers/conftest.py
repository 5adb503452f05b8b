"""The container mesh, started once for this folder's tests (and the image built first when it is stale)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.containers.mesh import (
    ContainerMesh,
    ContainersUnavailable,
    check_containers_work,
    ensure_image,
    running_mesh,
)


@pytest.fixture(scope="session")
def image() -> str:
    try:
        check_containers_work()
        return ensure_image()
    except ContainersUnavailable as reason:
        pytest.skip(str(reason))


@pytest.fixture(scope="session")
def container_mesh(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerMesh]:
    with running_mesh(image, tmp_path_factory.mktemp("mesh")) as mesh:
        yield mesh
