from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.clients import Api
from tests.gateway_process import GatewayProcess


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway shared by the tests that need no restart; tests isolate by unique names."""
    server = GatewayProcess(tmp_path_factory.mktemp("gateway"))
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def own_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    """A gateway of the test's own, for tests that kill, restart or configure it."""
    server = GatewayProcess(tmp_path)
    yield server
    server.destroy()


@pytest.fixture
async def api(gateway: GatewayProcess) -> AsyncIterator[Api]:
    client = Api(gateway.http_url)
    yield client
    await client.close()
