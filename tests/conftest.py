from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.clients import Api
from tests.fake_fcm import FakeFcm
from tests.gateway_process import GatewayProcess


def run_gateway(workdir: Path, env: dict[str, str] | None = None) -> Iterator[GatewayProcess]:
    """A started gateway for a fixture to yield from; destroyed when the fixture ends.
    A test module with a gateway of its own (its own settings) overrides ``gateway``
    with one of these, and ``api`` follows it."""
    server = GatewayProcess(workdir, env)
    server.start()
    yield server
    server.destroy()
    show_log(server)


def show_log(server: GatewayProcess) -> None:
    """The gateway's log (warnings and errors), printed at teardown: pytest shows it only
    with a failure, which it then explains (a flake's temporary folder is gone by the time
    anyone looks)."""
    log = server.log()
    if log:
        print(f"--- gateway log ({server.log_path}):\n{log}")


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway shared by the tests that need no restart; tests isolate by unique names."""
    yield from run_gateway(tmp_path_factory.mktemp("gateway"))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeFcm]:
    """A local stand-in for the FCM HTTP endpoint: the one fake of the suite."""
    server = FakeFcm()
    yield server
    server.close()


@pytest.fixture
def own_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    """A gateway of the test's own, for tests that kill, restart or configure it."""
    server = GatewayProcess(tmp_path)
    yield server
    server.destroy()
    show_log(server)


@pytest.fixture
async def api(gateway: GatewayProcess) -> AsyncIterator[Api]:
    client = Api(gateway.http_url)
    yield client
    await client.close()
