"""Engine benchmarks in one run: ``./dev bench engine``.

Prints the evaluator/shuffle/equity figures, then the game state machine's hands per second
and checkpoint round trip. Asserts nothing.
"""

from __future__ import annotations

import os
import platform

from loadtest import bench_evaluator, bench_game


def run() -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}\n"
    )
    bench_evaluator.run()
    print()
    bench_game.run()


if __name__ == "__main__":
    run()
