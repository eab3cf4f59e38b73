#!/usr/bin/env python3
"""The markdown of scripts/bench --postgres: medians [min–max] over the rounds of each figure, pybgd
beside pgqueuer, procrastinate and oban from the same run, and the ratios the targets are stated in.

usage: bench_postgres_report.py postgres.jsonl
"""
from __future__ import annotations

import json
import statistics
import sys


def load(path: str) -> list[dict]:
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def values(rows: list[dict], lib: str, test: str, key: str, **match) -> list[float]:
    return [
        r[key] for r in rows
        if r.get("lib") == lib and r.get("test") == test and r.get(key) is not None
        and all(r.get(k) == v for k, v in match.items())
    ]


def cell(xs: list[float], digits: int = 0) -> str:
    if not xs:
        return "—"
    fmt = f"{{:,.{digits}f}}"
    median = fmt.format(statistics.median(xs))
    return median if len(xs) == 1 else f"{median} [{fmt.format(min(xs))}–{fmt.format(max(xs))}]"


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def main() -> None:
    rows = load(sys.argv[1])
    libs = ["pybgd", "pgqueuer", "procrastinate", "oban"]
    print("| | enqueue, batched /s | enqueue, one by one /s | drain /s, 1 host | drain /s, 2 hosts | latency p50 ms | latency p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for lib in libs:
        if lib == "pybgd":
            drain1 = values(rows, lib, "drain", "per_s", hosts=1)
            drain2 = values(rows, lib, "drain", "per_s", hosts=2)
        else:
            drain1 = values(rows, lib, "drain", "jobs_per_s")
            drain2 = []
        key = "per_s" if lib == "pybgd" else "jobs_per_s"
        print(
            f"| {lib} | {cell(values(rows, lib, 'enq_batch', key))} | {cell(values(rows, lib, 'enq_single', key))} "
            f"| {cell(drain1)} | {cell(drain2)} | {cell(values(rows, lib, 'latency', 'p50_ms'), 2)} "
            f"| {cell(values(rows, lib, 'latency', 'p99_ms'), 2)} |"
        )
    floor = values(rows, "postgres-floor", "insert1", "per_s")
    print(f"\nThe database's own rate of one insert per commit (asyncpg, one connection): {cell(floor)} /s.")
    rescue = values(rows, "pybgd", "rescue", "rescued_after_s")
    pgq = [r["rerun_after_kill_s"] for r in rows if r.get("lib") == "pgqueuer" and r.get("test") == "recovery" and r.get("rerun")]
    print(f"Time to run a task again after its host's SIGKILL: pybgd {cell(rescue, 1)} s (lease 15 s); pgqueuer {cell(pgq, 1)} s.")
    best = max(
        (median(values(rows, lib, "drain", "jobs_per_s")) or 0, lib) for lib in ["pgqueuer", "procrastinate", "oban"]
    )
    ours = median(values(rows, "pybgd", "drain", "per_s", hosts=1))
    ours2 = median(values(rows, "pybgd", "drain", "per_s", hosts=2))
    if best[0] and ours:
        print(f"\nDrain, pybgd ÷ the fastest of them ({best[1]}): 1 host {ours / best[0]:.2f}×, 2 hosts {(ours2 or 0) / best[0]:.2f}× (target ≥ 2×).")
    single = median(values(rows, "pybgd", "enq_single", "per_s"))
    if single and floor:
        print(f"One-by-one submissions from 16 clients ÷ one insert per commit: {single / median(floor):.2f}× (target > 1×).")
    p50 = median(values(rows, "pybgd", "latency", "p50_ms"))
    p99 = median(values(rows, "pybgd", "latency", "p99_ms"))
    if p50 is not None:
        print(f"Latency p50 {p50:.2f} ms (target ≤ 2), p99 {p99:.2f} ms (target ≤ 5); rescue median {median(rescue) or 0:.1f} s (target ≤ 20).")


if __name__ == "__main__":
    main()
