"""Benchmark of the load generator: the staged run's bots at human pace, alone in the figures.

``./dev bench bots [--players 500] [--seconds 30] [--against GIT_REF [--rounds 2]]``
starts the stack of ``./dev loadtest`` once (`loadtest.stages.load_stack`: PostgreSQL, Redis,
the API functions behind the local gateway, moto, the gateway simulator, two table servers)
and runs stages of the swarm on it (`loadtest.stages.run_stage`: fresh tables, the bots log in
or refresh, deposit when needed, join, buy in, then a measured window at human pace — think
uniform 1–3 s, a REST call every 20 s per bot on average — and leave). ``--players 500`` is
one swarm worker, as each of the staged run's four at 2,000 players. Per window it prints
what the bots cost: their CPU (% of a core, psutil, every worker process), per message
received, per bot per second and per 100 players, beside the work they did (messages, acts
and REST calls per second, the cards' openings they verified) and the table servers' CPU.

``--against GIT_REF`` is the before/after of a change to the load generator in one run: the
swarm of GIT_REF (its ``loadtest`` and ``shared/src``, extracted under ``.devstate``) and this
tree's, in alternating windows on the same stack (``--rounds`` each, the first side
alternating), then each figure's median side by side. ``--profile`` records the bots'
processes with py-spy during each window and prints the busiest functions.

Bots keep their accounts and refresh tokens in ``.devstate/bench-bots`` (the first run
registers them: a minute or two of password hashing). The stack's output goes to
``loadtest/results/bench-bots-<time>/stack.log`` with every stage's figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from devstack.paths import ROOT
from loadtest.git_ref import check_out
from loadtest.stages import (
    PACES,
    RESULTS,
    api_environments,
    load_stack,
    quiet_stack,
    run_stage,
    stage_env,
)

BETWEEN_HANDS_S = 2.0  # the staged run's at human pace


def figures(stage: dict[str, Any]) -> dict[str, float]:
    """What one window's bots cost, and the work they did."""
    cpu = stage["cpu_percent"].get("bots", 0.0)
    seated = max(1, stage["seated"])
    per_s = max(stage["messages_per_s"], 1e-9)
    return {
        "bots CPU %": cpu,
        "us/message": cpu / 100 / per_s * 1e6,
        "us/bot/s": cpu / 100 / seated * 1e6,
        "% per 100 bots": cpu / seated * 100,
        "messages/s": stage["messages_per_s"],
        "acts/s": stage["actions_per_s"],
        "REST/s": stage["rest_per_s"],
        "servers CPU %": stage["cpu_percent"].get("table servers", 0.0),
        "ack p50 ms": stage["ack_ms"]["p50"] or float("nan"),
        "ack p99 ms": stage["ack_ms"]["p99"] or float("nan"),
    }


def window_line(name: str, stage: dict[str, Any], console: Any) -> dict[str, float] | None:
    if "failed" in stage:
        print(f"  {name}: FAILED {stage['failed']}", file=console, flush=True)
        return None
    f = figures(stage)
    openings = stage.get("openings")
    checked = (
        f"openings verified {openings['verified']}, failed {openings['failed']}"
        if openings and (openings["verified"] or openings["failed"])
        else "openings not reported"
    )
    print(
        f"  {name}: {stage['seated']} bots, bots {f['bots CPU %']:.1f}% of a core -> "
        f"{f['us/message']:.0f} us per message received, {f['us/bot/s']:.0f} us per bot per "
        f"second ({f['% per 100 bots']:.2f}% of a core per 100 bots); "
        f"{f['messages/s']:.0f} messages/s, {f['acts/s']:.1f} acts/s, {f['REST/s']:.1f} REST/s, "
        f"ack p50/p99 {f['ack p50 ms']:.1f}/{f['ack p99 ms']:.1f} ms, table servers "
        f"{f['servers CPU %']:.0f}%; errors {stage['error_count']}, dropped "
        f"{stage['dropped']}, {checked}; load {stage['load_avg_1m_max']:.1f}",
        file=console,
        flush=True,
    )
    for path_name, summary in sorted(stage.get("profiles", {}).items()):
        print(f"    py-spy {path_name} ({summary['samples']} samples), inclusive:", file=console)
        for function, share in summary["inclusive"]:
            print(f"      {share * 100:5.1f}%  {function}", file=console)
        print("    self:", file=console)
        for function, share in summary["self"]:
            print(f"      {share * 100:5.1f}%  {function}", file=console, flush=True)
    return f


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev bench bots", description=__doc__)
    parser.add_argument("--players", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--rest-gap", type=float, default=20.0, help="mean s between REST calls")
    parser.add_argument("--servers", type=int, default=2, help="table-server processes")
    parser.add_argument("--against", metavar="GIT_REF", help="also run GIT_REF's swarm")
    parser.add_argument("--rounds", type=int, default=2, help="windows per side with --against")
    parser.add_argument("--profile", action="store_true", help="py-spy the bots' processes")
    args = parser.parse_args(argv)

    os.environ.setdefault("LOADTEST_STACK", "bench-bots")
    shared_src = str(ROOT / "shared" / "src")
    sys.path.insert(0, shared_src)
    os.environ["PYTHONPATH"] = f"{shared_src}:{ROOT}:{ROOT / 'tools'}"
    folder = RESULTS / time.strftime("bench-bots-%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    console = quiet_stack(folder / "stack.log")
    sides: list[tuple[str, Path]] = [("this tree", ROOT)]
    if args.against:
        sides.append(
            (args.against, check_out(args.against, ["loadtest", "shared/src"], "bench-bots-code"))
        )
    rounds = args.rounds if args.against else 1
    think = PACES["human"]
    print(
        f"bench bots: {args.players} bots at human pace (think {think} s, a REST call per "
        f"{args.rest_gap:.0f} s), {args.seconds:.0f} s windows, {args.servers} table servers; "
        f"results in {folder}",
        file=console,
        flush=True,
    )
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
    env = stage_env("human", BETWEEN_HANDS_S)
    with load_stack(args.servers, env, api_environments(args.players)) as stack:
        for round_no in range(1, rounds + 1):
            for name, code in sides if round_no % 2 else sides[::-1]:
                stage = run_stage(
                    stack,
                    args.players,
                    pace="human",
                    think=think,
                    duration=args.seconds,
                    rest_gap=args.rest_gap,
                    folder=folder,
                    profile=("bots",) if args.profile else (),
                    code=code,
                )
                result = window_line(f"round {round_no}, swarm of {name}", stage, console)
                if result is not None:
                    runs[name].append(result)
    if len(sides) == 2 and all(runs.values()):
        names = list(runs)
        print(f"\nmedians of {rounds} windows per side:", file=console)
        print(
            f"  {'':16s}" + "".join(f"{n[:14]:>16s}" for n in names) + f"{'ratio':>8s}",
            file=console,
        )
        for figure in runs[names[0]][0]:
            medians = [statistics.median(r[figure] for r in runs[n]) for n in names]
            ratio = medians[0] / medians[1] if medians[1] else float("nan")
            print(
                f"  {figure:16s}" + "".join(f"{m:16.2f}" for m in medians) + f"{ratio:8.2f}",
                file=console,
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
