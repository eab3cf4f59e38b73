#!/usr/bin/env python3
"""The daemon side of the schedule benchmark (scripts/bench): the release pybgd, with its SQLite
store, runs a per-second cron schedule and a 1 s interval for SECONDS; each firing's task records
its tick, and lateness is its started_at minus that tick, read from FUTURES afterwards (a firing
is written to disk before its task starts, so this includes the commit). Then 10,000 schedules
that do not fire are added and pybgd's CPU time over a 10 s idle window is read from /proc.
Prints one JSON line shaped as the library's report.

usage: bench_pybgd_schedules.py PYBGD SECONDS WORKDIR"""
import json
import lateness_report
import math
import os
import socket
import subprocess
import sys
import threading
import time


def request(path, line):
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(path)
        connection.sendall(line.encode() + b"\n")
        reply = connection.makefile().readline()
    if not reply.startswith("OK "):
        raise SystemExit(f"pybgd refused {line!r}: {reply.strip()}")
    return json.loads(reply[3:])


def lateness(futures, schedule, grid, period, end):
    """As bench_apscheduler.py: firings on the grid from `grid`, missed ones counted until `end`."""
    late, covered = [], set()
    for future in futures:
        if future.get("schedule") != schedule or future.get("started_at") is None or not grid - 0.001 <= future["tick"] <= end:
            continue
        late.append((future["started_at"] - future["tick"]) * 1000)
        covered.add(round((future["tick"] - grid) / period))
    return lateness_report.report(late, covered, grid, period, end)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    binary, seconds, workdir = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    os.makedirs(workdir, exist_ok=True)
    sock, state = os.path.join(workdir, "sched.sock"), os.path.join(workdir, "sched.sqlite")
    for leftover in (sock, state, state + "-wal", state + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    start = math.ceil(time.time()) + 2
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    config = os.path.join(workdir, "sched.yaml")
    with open(config, "w") as file:
        file.write("scheduler: {max_workers: 2, keep_finished: null}\nschedules:\n"
                   f"  - {{name: cron, task: noop, cron: \"* * * * * *\", time_zone: UTC}}\n"
                   f"  - {{name: interval, task: noop, every: 1s, start: \"{stamp}\"}}\n")
    daemon = subprocess.Popen([binary, "--config", config, "--socket", sock, "--state", state],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "sched.log"), "w"))
    try:
        for _ in range(2000):
            try:
                request(sock, "PING")
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.01)
        time.sleep(max(0, start - time.time()) + seconds)
        request(sock, "SCHEDULE PAUSE cron")
        request(sock, "SCHEDULE PAUSE interval")
        end = time.time()
        time.sleep(0.5)
        futures = request(sock, "FUTURES all")["futures"]
        report = {"seconds": seconds,
                  "cronEverySecond": lateness(futures, "cron", start, 1.0, end),
                  "interval1s": lateness(futures, "interval", start, 1.0, end)}
        with socket.socket(socket.AF_UNIX) as connection:
            connection.connect(sock)
            lines = "".join(f"SCHEDULE ADD idle{i} " + ("every=1h noop\n" if i % 2 == 0 else "cron=\"0 3 * * *\" tz=UTC noop\n")
                            for i in range(10_000))
            # Written from another thread while this one reads: pybgd stops reading a client that
            # does not read its replies.
            writer = threading.Thread(target=connection.sendall, args=(lines.encode(),))
            writer.start()
            replies = connection.makefile()
            for _ in range(10_000):
                if not replies.readline().startswith("OK "):
                    raise SystemExit("pybgd refused a SCHEDULE ADD")
            writer.join()
        time.sleep(1)
        before, wall = cpu_seconds(daemon.pid), time.time()
        time.sleep(10)
        report["idleCoreShareWith10kSchedules"] = (cpu_seconds(daemon.pid) - before) / (time.time() - wall)
        request(sock, "SHUTDOWN nowait")
        daemon.wait(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
