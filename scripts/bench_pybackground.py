#!/usr/bin/env python3
"""Measures the Python original, pybackground 0.1.2, the way the Swift benchmark measures ours.

Prints one JSON object. Run by scripts/bench inside a venv that has pybackground installed.
The original's BackgroundScheduler.start spawns a polling thread per call (on top of the
ThreadPoolExecutor's workers) that lives up to 3 s after shutdown, so each count runs in a
process of its own under a time limit, and a count that fails (thread limits, time) is
reported as such.
"""
import json
import sys
import threading
import time
import tracemalloc

import pybackground


def noop():
    pass


def throughput(count, workers):
    sched = pybackground.BackgroundScheduler(max_workers=workers)
    begin = time.perf_counter()
    for _ in range(count):
        sched.start(noop)
    started = time.perf_counter()
    sched.shutdown(wait=True)
    end = time.perf_counter()
    futures = sched.future
    assert len(futures) == count and all(f.done() for f in futures.values())
    return {"tasksPerSecond": count / (end - begin), "startMicroseconds": (started - begin) / count * 1e6,
            "threadsAtPeak": threading.active_count()}


def bytes_retained_per_task(count, workers):
    sched = pybackground.BackgroundScheduler(max_workers=workers)
    sched.start(noop)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(count):
        sched.start(noop)
    sched.shutdown(wait=True)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count


def main():
    """`WORKERS COUNT` measures one task count; `WORKERS bytes` the bytes retained per task.
    scripts/bench runs each in its own process under a time limit."""
    workers = int(sys.argv[1])
    what = sys.argv[2]
    if what == "bytes":
        print(json.dumps({"bytesRetainedPerTask": bytes_retained_per_task(10000, workers)}))
        return
    count = int(what)
    try:
        result = throughput(count, workers)
    except Exception as error:  # thread creation fails past the system's limits
        print(json.dumps({"count": count, "failure": f"{type(error).__name__}: {error}"}))
        return
    print(json.dumps({"count": count, "result": result}))


if __name__ == "__main__":
    main()
