"""The load-test report: Markdown and PNG plots from a run's ``results.json``.

python -m loadtest.report loadtest/results/<time>/   # (re)write report.md and the plots
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

TARGET_P95_MS = 20.0  # action latency at 500 players
TARGET_P99_MS = 100.0  # action -> broadcast


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def meets(stage: dict[str, Any]) -> bool:
    """p99 action→broadcast < 100 ms, no errors, no dropped connections, every bot seated."""
    if "failed" in stage:
        return False
    p99 = stage["broadcast_ms"]["p99"]
    return (
        p99 is not None
        and p99 < TARGET_P99_MS
        and stage["error_count"] == 0
        and stage["dropped"] == 0
        and stage["seated"] == stage["players"]
        and not stage["setup_errors"]
    )


def stage_line(stage: dict[str, Any]) -> str:
    if "failed" in stage:
        return f"  {stage['players']:>6} players: FAILED {stage['failed']}"
    return (
        f"  {stage['players']:>6} players: seated {stage['seated']}, "
        f"ack p50/p95/p99 {_ms(stage['ack_ms']['p50'])}/{_ms(stage['ack_ms']['p95'])}/"
        f"{_ms(stage['ack_ms']['p99'])} ms, broadcast p99 {_ms(stage['broadcast_ms']['p99'])} ms, "
        f"{stage['hands_per_s']:.1f} hands/s, {stage['actions_per_s']:.0f} actions/s, "
        f"errors {stage['error_count']}, dropped {stage['dropped']}, "
        f"load {stage['load_avg_1m_max']:.1f}"
    )


def _summary_table(stages: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| players | pace | seated | ack p50 / p95 / p99 / max (ms)"
        " | broadcast p50 / p95 / p99 / max (ms) | hands/s | actions/s | REST/s"
        " | errors | dropped | load (1 min, max) | p99 < 100 ms |",
        "| ---: | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in stages:
        if "failed" in s:
            lines.append(f"| {s['players']} | {s['pace']} | failed: {s['failed']} |" + " |" * 9)
            continue
        a, b = s["ack_ms"], s["broadcast_ms"]
        lines.append(
            f"| {s['players']} | {s['pace']} | {s['seated']} | "
            f"{_ms(a['p50'])} / {_ms(a['p95'])} / {_ms(a['p99'])} / {_ms(a['max'])} | "
            f"{_ms(b['p50'])} / {_ms(b['p95'])} / {_ms(b['p99'])} / {_ms(b['max'])} | "
            f"{s['hands_per_s']:.1f} | {s['actions_per_s']:.0f} | {s['rest_per_s']:.0f} | "
            f"{s['error_count']} | {s['dropped']} | {s['load_avg_1m_max']:.1f} | "
            f"{'yes' if meets(s) else 'no'} |"
        )
    return lines


def _rest_table(stages: list[dict[str, Any]]) -> list[str]:
    routes = sorted({name for s in stages if "failed" not in s for name in s["rest_ms"]})
    head = "| route | " + " | ".join(f"{s['players']}" for s in stages if "failed" not in s)
    lines = [
        "REST latency per route, p50 / p95 / p99 in ms, by players:",
        "",
        head + " |",
        "| --- |" + " --- |" * sum(1 for s in stages if "failed" not in s),
    ]
    for route in routes:
        cells = []
        for s in stages:
            if "failed" in s:
                continue
            p = s["rest_ms"].get(route)
            cells.append(
                "–" if p is None else f"{_ms(p['p50'])} / {_ms(p['p95'])} / {_ms(p['p99'])}"
            )
        lines.append(f"| `{route}` | " + " | ".join(cells) + " |")
    return lines


def _resources_table(stages: list[dict[str, Any]]) -> list[str]:
    ok = [s for s in stages if "failed" not in s]
    roles = sorted({r for s in ok for r in s["cpu_percent"]})
    lines = [
        "CPU (% of one core, mean over the window) and peak memory (RSS, MiB) by process role:",
        "",
        "| role | " + " | ".join(str(s["players"]) for s in ok) + " |",
        "| --- |" + " --- |" * len(ok),
    ]
    for role in roles:
        cells = [
            f"{s['cpu_percent'].get(role, 0):.0f}% / {s['peak_rss_mb'].get(role, 0):.0f} MiB"
            for s in ok
        ]
        lines.append(f"| {role} | " + " | ".join(cells) + " |")
    return lines


def _storage_table(stages: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| players | hands | PostgreSQL commits | commits per hand | rollbacks | Redis commands |"
        " Redis commands per action | top Redis commands |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in stages:
        if "failed" in s:
            continue
        per_hand = s["pg_commits_per_hand"]
        per_action = s["redis_calls_per_action"]
        top = ", ".join(f"{k} {v}" for k, v in list(s["redis_top_commands"].items())[:6])
        lines.append(
            f"| {s['players']} | {s['hands']} | {s['pg_commits']} | "
            f"{'–' if per_hand is None else f'{per_hand:.2f}'} | {s['pg_rollbacks']} | "
            f"{s['redis_calls']} | {'–' if per_action is None else f'{per_action:.1f}'} | {top} |"
        )
    return lines


def _bytes_table(stages: list[dict[str, Any]]) -> list[str]:
    ok = [s for s in stages if "failed" not in s]
    if not ok:
        return []
    last = ok[-1]
    kinds: dict[str, dict[str, float]] = {}
    for key, value in last["bytes_by_kind"].items():
        encoding, _, kind = key.partition(":")
        kinds.setdefault(kind, {})[encoding] = value["mean_bytes"]
    lines = [
        f"Mean bytes per received message by kind and encoding (stage {last['players']}):",
        "",
        "| message | JSON | MessagePack | MessagePack / JSON |",
        "| --- | ---: | ---: | ---: |",
    ]
    for kind, by in sorted(kinds.items()):
        j, m = by.get("json"), by.get("msgpack")
        ratio = f"{m / j:.0%}" if j and m else "–"
        lines.append(
            f"| {kind} | {'–' if j is None else f'{j:.0f}'} | "
            f"{'–' if m is None else f'{m:.0f}'} | {ratio} |"
        )
    return lines


def plots(run: dict[str, Any], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [s for s in run["stages"] if "failed" not in s and s["ack_ms"]["n"]]
    if not ok:
        return []
    players = [s["players"] for s in ok]
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, title in (
        (axes[0], "ack_ms", "action → acknowledgement"),
        (axes[1], "broadcast_ms", "action → broadcast"),
    ):
        for q, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-"), ("max", "x:")):
            ax.plot(players, [s[key][q] for s in ok], style, label=q)
        ax.axhline(TARGET_P99_MS, color="red", lw=0.8, ls="--", label="100 ms")
        ax.axhline(TARGET_P95_MS, color="orange", lw=0.8, ls="--", label="20 ms")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("concurrent players")
        ax.set_ylabel("ms")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "latency.png", dpi=110)
    plt.close(fig)
    written.append("latency.png")

    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.plot(players, [s["hands_per_s"] for s in ok], "o-", label="hands/s")
    ax.plot(players, [s["actions_per_s"] for s in ok], "s-", label="actions/s")
    ax.plot(players, [s["rest_per_s"] for s in ok], "^-", label="REST requests/s")
    ax2 = ax.twinx()
    ax2.plot(players, [s["load_avg_1m_max"] for s in ok], "k:", label="load avg (right)")
    ax2.set_ylabel("load average")
    ax.set_xscale("log")
    ax.set_xlabel("concurrent players")
    ax.set_ylabel("per second")
    ax.set_title("throughput")
    ax.grid(True, which="both", alpha=0.3)
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(folder / "throughput.png", dpi=110)
    plt.close(fig)
    written.append("throughput.png")

    roles = sorted({r for s in ok for r in s["cpu_percent"]})
    fig, ax = plt.subplots(figsize=(11, 4.2))
    bottom = [0.0] * len(ok)
    xs = [str(p) for p in players]
    for role in roles:
        values = [s["cpu_percent"].get(role, 0.0) for s in ok]
        ax.bar(xs, values, bottom=bottom, label=role)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.axhline(100 * (run["machine"]["cpus"] or 1), color="red", lw=0.8, ls="--", label="all cores")
    ax.set_xlabel("concurrent players")
    ax.set_ylabel("CPU, % of one core")
    ax.set_title("CPU by process role")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(folder / "cpu.png", dpi=110)
    plt.close(fig)
    written.append("cpu.png")
    return written


def render(run: dict[str, Any], images: list[str]) -> str:
    stages = run["stages"]
    m = run["machine"]
    echo = run.get("echo", {})
    good = [s["players"] for s in stages if meets(s)]
    lines = [
        "# Load test report",
        "",
        f"Command: `{run['command']}`  ",
        f"Started {run['started']}, finished {run.get('finished', '(running)')}.  ",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GiB, Linux "
        f"{m['kernel']}, Python {m['python']}; load average at start "
        f"{' / '.join(f'{x:.2f}' for x in m['load_avg_at_start'])}.  ",
        "Everything ran on this one machine: PostgreSQL (durable), Redis, the API functions "
        "behind the local HTTP gateway, the table servers, moto, the gateway simulator and the "
        "bots.",
        "",
        "Settings: "
        + ", ".join(f"`{k}={v}`" for k, v in run["settings"].items())
        + ". Bots log in (registering first if new) and deposit through the REST API and the "
        "gateway simulator, then join, buy in and play; alternating JSON and MessagePack and "
        "alternating table servers; 6-max and 9-max tables alternately.",
        "",
        "## Summary",
        "",
        *_summary_table(stages),
        "",
        f"Largest player count meeting p99 action→broadcast < 100 ms with zero errors and zero "
        f"dropped connections: **{max(good) if good else 'none'}**.",
        "",
    ]
    if echo:
        lines += [
            "Reference (same run, same machine): a bare `websockets` echo server with "
            f"{echo['clients']} clients in one process handled "
            f"**{echo['messages_per_s']:,.0f} messages/s** ({echo['round_trips_per_s']:,.0f} "
            f"round trips/s, RTT p50 {_ms(echo['rtt_p50_ms'])} ms, p99 {_ms(echo['rtt_p99_ms'])}"
            f" ms; server CPU {echo['server_cpu_percent']:.0f}% of a core — the one client "
            "process is the limit). Compare with the messages/s the bots received below.",
            "",
        ]
    check = run.get("ledger_check")
    if check:
        verdict = "clean" if check["ok"] else "NOT clean"
        lines += [
            f"`./dev ledger check` on the stack's database after the run: **{verdict}**.",
            "",
            "```",
            check["output"],
            "```",
            "",
        ]
    for image in images:
        lines += [f"![{image}]({image})", ""]
    lines += ["## REST API", "", *_rest_table(stages), "", "## Resources", ""]
    lines += [*_resources_table(stages), ""]
    lines += ["## Storage per hand and per action", "", *_storage_table(stages), ""]
    lines += ["## Messages", ""]
    lines += [
        "| players | messages received/s (all bots) |",
        "| ---: | ---: |",
        *(f"| {s['players']} | {s['messages_per_s']:,.0f} |" for s in stages if "failed" not in s),
        "",
        *_bytes_table(stages),
        "",
    ]
    profiled = [s for s in stages if s.get("profiles")]
    if profiled:
        lines += ["## Profiles (py-spy, table servers, during the window)", ""]
        for s in profiled:
            for name, prof in s["profiles"].items():
                lines += [
                    f"`{name}` ({s['players']} players, {prof['samples']} samples), top "
                    "functions by self time and inclusive time:",
                    "",
                    "| self | function | | inclusive | function |",
                    "| ---: | --- | --- | ---: | --- |",
                ]
                for (a, x), (b, y) in zip(prof["self"], prof["inclusive"], strict=False):
                    lines.append(f"| {x:.1%} | `{a}` | | {y:.1%} | `{b}` |")
                lines.append("")
    problems = [s for s in stages if "failed" in s or s.get("errors") or s.get("setup_errors")]
    if problems:
        lines += ["## Errors", ""]
        for s in problems:
            if "failed" in s:
                lines.append(f"- {s['players']} players: stage failed: {s['failed']}")
                continue
            if s["setup_errors"]:
                lines.append(f"- {s['players']} players, set-up: {s['setup_errors']}")
            if s["errors"]:
                lines.append(f"- {s['players']} players, window: {s['errors']}")
        lines.append("")
    return "\n".join(lines)


def write(run: dict[str, Any], folder: Path) -> Path:
    images = plots(run, folder)
    path = folder / "report.md"
    path.write_text(render(run, images))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.report", description=__doc__)
    parser.add_argument("folder")
    args = parser.parse_args()
    folder = Path(args.folder)
    run = json.loads((folder / "results.json").read_text())
    print(write(run, folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
