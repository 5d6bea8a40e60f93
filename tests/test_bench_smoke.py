"""``bench/run --quick`` runs every scenario end to end and writes sane result files.

No benchmark figure is judged here (the machine is shared): only that each scenario ran,
moved messages, and lost none.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import _config
from gateway.settings import SettingsError, load_settings

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCENARIOS = ("throughput", "idle", "cross_node", "storm", "store")
TARGETS = ("atdesk", "ws_relay", "socketio_relay", "node_relay")


def _phases_moved_messages(result: dict[str, Any]) -> None:
    for phase in [result["max"], *result["steps"]]:
        assert phase["acked_per_s"] > 0, phase
        assert phase["delivered_per_s"] > 0, phase
        assert phase["errors"] == 0, phase
        assert phase["send_to_delivery_ms"]["p99"] > 0, phase
        assert phase["loadgen_cpu_pct"] >= 0, phase


def test_quick_run_writes_every_result(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BENCH / "run"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in SCENARIOS}

    throughput = results["throughput"]
    assert set(throughput["targets"]) == set(TARGETS)
    for target in TARGETS:
        _phases_moved_messages(throughput["targets"][target])
    assert throughput["ratios"]["atdesk_per_ws_relay"] > 0
    assert (tmp_path / "latency_vs_load.png").stat().st_size > 0

    idle = results["idle"]["result"]
    assert idle["sockets"] >= 1000
    assert idle["rss_per_socket_kib"] > 0
    assert idle["probes_lost"] == 0
    # ATDESK_WS_DEFLATE decides whether the offered permessage-deflate is taken.
    compression = results["idle"]["compression"]
    assert compression["off"]["deflate_negotiated"] is False
    assert compression["on"]["deflate_negotiated"] is True
    assert compression["on"]["probes_lost"] == 0

    for name in ("one_node", "two_nodes", "two_nodes_spread"):
        _phases_moved_messages(results["cross_node"]["results"][name])

    storm = results["storm"]["result"]
    assert storm["missed_messages"] == storm["clients"] > 0
    assert storm["caught_up"] == storm["clients"]
    assert storm["lost"] == 0

    for database in ("sqlite", "postgresql"):
        assert results["store"]["results"][database]["max"]["acked_per_s"] > 0


def test_compression_is_a_setting_off_by_default() -> None:
    """bench/RESULTS.md measured permessage-deflate's memory; ATDESK_WS_DEFLATE turns it on."""
    args = argparse.Namespace(host="127.0.0.1", port=8000, log_level="info")
    assert (
        _config(load_settings({}), "gateway.app:create_app", args).ws_per_message_deflate is False
    )
    for raw, expected in [("1", True), ("true", True), ("0", False), ("off", False), ("", False)]:
        settings = load_settings({"ATDESK_WS_DEFLATE": raw})
        assert settings.ws_deflate is expected
        assert _config(settings, "gateway.app:create_app", args).ws_per_message_deflate is expected
    with pytest.raises(SettingsError, match="ATDESK_WS_DEFLATE"):
        load_settings({"ATDESK_WS_DEFLATE": "sometimes"})
