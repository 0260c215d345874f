"""The load-test tooling: its histogram and correctness bookkeeping, and a tiny end-to-end
run of a scenario command (real Valkey, real chat server, real baseline, real clients).
The scenarios themselves are benchmarks (commands that print numbers), not timed tests."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from loadtests.stats import Histogram, bucket_of, bucket_value, median_dict
from loadtests.wire import Flow, client_frame

ROOT = Path(__file__).resolve().parent.parent


def test_histogram_percentiles_within_bucket_precision():
    h = Histogram()
    for v in range(1, 10001):
        h.add(v)
    assert h.n == 10000 and h.max == 10000
    for p, expected in ((50, 5000), (90, 9000), (99, 9900)):
        assert abs(h.percentile(p) - expected) / expected < 0.07
    assert h.percentile(100) == 10000


def test_histogram_buckets_are_monotonic_and_merge_exactly():
    last = -1
    for v in range(0, 200000, 7):
        b = bucket_of(v)
        assert b >= last
        last = b
        assert abs(bucket_value(b) - v) <= max(1.0, v * 0.07)
    a, b = Histogram(), Histogram()
    for v in (5, 50, 500):
        a.add(v)
    for v in (5000, 50000):
        b.add(v)
    a.merge(Histogram.from_dict(json.loads(json.dumps(b.to_dict()))))
    assert a.n == 5 and a.max == 50000


def test_flow_counts_losses_duplicates_and_reordering():
    f = Flow()
    for seq in (1, 2, 4, 3, 3, 5, 9):
        f.see(seq)
    assert f.count == 6  # 1 2 3 4 5 9: 6, 7 and 8 never came
    assert f.dups == 1 and f.out_of_order == 1
    assert f.missing == {6, 7, 8}


def test_median_dict_and_client_frame():
    assert median_dict([{"a": 1, "b": 5}, {"a": 3}, {"a": 2, "b": 7}]) == {"a": 2, "b": 6}
    assert client_frame(b"hi") == b"\x81\x82\x00\x00\x00\x00hi"


def test_fanout_command_end_to_end(tmp_path):
    """A minimal fan-out run: both targets deliver everything, in order, once."""
    proc = subprocess.run(
        [
            sys.executable, "-m", "loadtests.fanout",
            "--members", "20", "--rates", "20", "--duration", "1",
            "--load-workers", "1", "--no-pin", "--out", str(tmp_path), "--no-half-check",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result_file,) = tmp_path.glob("fanout-*.json")
    result = json.loads(result_file.read_text())
    for kind in ("baseline", "chatserver"):
        (step,) = result["runs"][0][kind]
        assert step["sent"] == 20 and step["refused"] == 0
        assert step["delivered"] == 20 * 20
        assert step["lost"] == step["duplicated"] == step["out_of_order"] == 0
    assert result["summary"]["ratio_deliveries"] is not None
    if importlib.util.find_spec("matplotlib") is not None:  # the `load` extra draws the plot
        assert (tmp_path / "fanout.png").stat().st_size > 0
    else:
        assert "matplotlib not installed" in proc.stdout
    assert "ratio chatserver / baseline" in proc.stdout


def test_soak_checker_counts_losses_duplicates_and_reordering():
    """The soak's bookkeeping, fed by hand: what a stayer saw against what was acknowledged."""
    import argparse

    from loadtests.soak import Ledger, Stayer, report

    ledger = Ledger()
    st = Stayer("ws://unused", "stay0", "soak:r0", ledger, 1.0)
    for offset, seq in ((1, 1), (2, 2), (2, 2), (4, 4), (3, 3)):
        st._take({"offset": offset, "data": {"text": f"SOAK|stay1|{seq}|x"}})
    ledger.acked["soak:r0"] = [("stay1", 1, 1), ("stay1", 2, 2), ("stay1", 3, 3), ("stay1", 4, 4)]
    args = argparse.Namespace(duration=1, stayers=1, rooms=1, churners=0)
    quiet = [{"rss_mib": 50.0, "fds": 10, "tasks": 5, "connections": 1}, {"rss_mib": 90.0, "fds": 20, "tasks": 5, "connections": 1}]
    result = report(args, [st], ledger, [], quiet, {"at": 1, "back_after_s": 1}, "", "")
    assert result["duplicated"] == 1 and result["reordered"] == 1
    assert result["lost"] == 1  # seq 3 arrived out of order and was dropped by the stayer
    failures = " ".join(result["failures"])
    assert "lost 1" in failures and "RSS grew 40.0 MiB" in failures and "open fds grew by 10" in failures


def test_soak_command_short_run(tmp_path):
    """A 20 s soak: members, churn, moderators, the embedded Valkey killed once; nothing
    lost, duplicated or reordered, no growth between the quiet points."""
    proc = subprocess.run(
        [sys.executable, "-m", "loadtests.soak", "--duration", "20", "--stayers", "6", "--churners", "4",
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (result_file,) = tmp_path.glob("soak-*.json")
    result = json.loads(result_file.read_text())
    assert result["acknowledged"] > 0 and result["lost"] == result["duplicated"] == result["reordered"] == 0
    assert result["valkey_killed"]["back_after_s"] < 30
    assert result["failures"] == []
    assert "SOAK PASSED" in proc.stdout
