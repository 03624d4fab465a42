"""The load test end to end, small: `./dev loadtest --players 6 --pace full` against a real
local stack (the test's PostgreSQL and Redis, the template's functions, two table servers,
the gateway simulator) completes hands with zero errors and writes its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from devstack.paths import ROOT


@pytest.mark.slow
def test_six_bots_play_hands_with_zero_errors_and_the_report_is_written(
    database_url, redis_url, tmp_path
):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOADTEST_STACK": f"smoke-{uuid.uuid4().hex[:8]}",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'tools'}",
    }
    argv = [
        sys.executable,
        "-m",
        "loadtest.stages",
        "--players",
        "6",
        "--pace",
        "full",
        "--duration",
        "4",
        "--rest-gap",
        "1",
        "--echo-clients",
        "4",
        "--echo-seconds",
        "0.5",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    log = (tmp_path / "stack.log").read_text() if (tmp_path / "stack.log").exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + log[-4000:]
    run = json.loads((tmp_path / "results.json").read_text())
    [stage] = run["stages"]
    assert "failed" not in stage, stage
    assert stage["seated"] == 6
    assert stage["setup_errors"] == {}
    assert stage["errors"] == {}
    assert stage["dropped"] == 0
    assert stage["hands"] > 0
    assert stage["actions"] > 0
    assert stage["ack_ms"]["n"] > 0
    assert stage["broadcast_ms"]["n"] > 0
    assert stage["pg_commits"] > 0
    assert stage["redis_calls"] > 0
    assert sum(len(v) for v in stage["rest_status"]) > 0
    assert {"json", "msgpack"} <= {k.split(":")[0] for k in stage["bytes_by_kind"]}
    assert run["echo"]["round_trips"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "| 6 | full | 6 |" in report
    assert (tmp_path / "latency.png").stat().st_size > 0
    assert (tmp_path / "throughput.png").stat().st_size > 0
