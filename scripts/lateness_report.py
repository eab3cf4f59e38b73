"""The lateness figures of the schedule benchmark, one definition for every contender
(bench_apscheduler.py, bench_pybgd_schedules.py; the Swift side, ScheduleBenchmarks, mirrors it)."""
import math


def report(late_ms, covered, grid, period, end):
    """`late_ms`: each firing's lateness; `covered`: the grid indexes (from `grid`, every `period`)
    that fired. Ticks up to `end` are expected; those not covered are missed."""
    expected = max(0, math.floor((end - grid - 0.05) / period) + 1)
    missed = sum(1 for i in range(expected) if i not in covered)
    late = sorted(late_ms)
    pick = lambda p: late[min(len(late) - 1, int(len(late) * p))] if late else 0
    return {"firings": len(late), "expected": expected, "missed": missed,
            "p50Milliseconds": pick(0.5), "p99Milliseconds": pick(0.99), "maxMilliseconds": late[-1] if late else 0}
