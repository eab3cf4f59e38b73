#!/usr/bin/env python3
"""pybgd on a shared PostgreSQL store, measured as the PostgreSQL queues on PyPI are by the anchors
of ../shared/anchors/pg (same cluster, same counts, same definitions), so that scripts/bench can put
them side by side:

  enq_batch   N SUBMIT noop pipelined on one connection (windows of 1000), the default queue paused:
              submissions/s until the last is acknowledged (each acknowledged once committed)
  enq_single  N SUBMIT noop one at a time (reply before the next) from C clients at once: total/s
  drain       N no-op tasks submitted with the queue paused, then resumed with H hosts running:
              tasks/s = (N - 1) / (last end - first end), by the database's clock
  latency     one host on an idle queue: 10 warm-up tasks, then N submitted G s apart; latency =
              the task's `started` event time - time.time() just before its SUBMIT
  rescue      host A runs `sleep 30` (retry-safe), host B idle; 1 s after it started A is SIGKILLed:
              seconds until the task runs again (its row running on B), with the default lease

usage: bench_postgres.py PYBGD URL TEST [--n N] [--clients C] [--hosts H] [--gap G]
URL: a postgres:// URL of a database the role may create databases from (each test uses a fresh one).
One JSON line per invocation, on stdout. PYBGD_BENCH_TABLE_STATS=1: the task table's update counts (how many were HOT) on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


def psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", libpq(url), "-XAtqc", sql], check=True, capture_output=True, text=True).stdout.strip()


def libpq(url: str) -> str:
    """pybgd's URL form (postgres://user@/db?host=DIR&port=P) is libpq's too."""
    return url


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


class Daemon:
    def __init__(self, pybgd: str, url: str, host: str, directory: str, workers: int = 2, prefetch: int | None = None):
        self.socket = os.path.join(directory, f"{host}.sock")
        config = os.path.join(directory, f"{host}.yaml")
        extra = f", prefetch: {prefetch}" if prefetch is not None else ""
        with open(config, "w") as f:
            f.write(
                f"scheduler: {{max_workers: {workers}, keep_finished: null, max_pending: 1000000}}\n"
                f"state: {{store: postgresql, url: \"{url}\", host_name: {host}{extra}}}\n"
                f"log: {{level: {os.environ.get('PYBGD_BENCH_LOG', 'warning')}}}\n"
            )
        self.log = open(os.path.join(directory, f"{host}.log"), "w")
        self.process = subprocess.Popen(
            [pybgd, "--config", config, "--socket", self.socket, "--state", url], stdout=subprocess.DEVNULL, stderr=self.log
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self.request("PING").startswith("OK"):
                    return
            except OSError:
                time.sleep(0.01)
        raise SystemExit(f"pybgd {host} did not answer; see {self.log.name}")

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.socket)
        return s

    def request(self, line: str) -> str:
        with self.connect() as s:
            s.sendall(line.encode() + b"\n")
            return s.makefile("rb").readline().decode()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(60)
        self.log.close()


def pipelined(daemon: Daemon, n: int, line: str, window: int = 1000) -> list[str]:
    replies: list[str] = []
    with daemon.connect() as s:
        reader = s.makefile("rb")
        sent = 0
        while sent < n:
            batch = min(window, n - sent)
            s.sendall((line + "\n").encode() * batch)
            for _ in range(batch):
                replies.append(reader.readline().decode())
            sent += batch
    return replies


def wait_finished(url: str, n: int, timeout: float = 180) -> None:
    # Every 0.25 s: each look is a psql process and a database session, on the cores the drain
    # runs on (at every 0.05 s, psql alone took 12% of the machine in a perf profile of a drain).
    # The rate is read from the rows' end times, so how often this looks does not change it.
    deadline = time.time() + timeout
    while time.time() < deadline:
        if int(psql(url, "SELECT count(*) FROM pybgd_tasks WHERE state = 'finished'")) >= n:
            return
        time.sleep(0.25)
    states = psql(url, "SELECT string_agg(state || ' on ' || coalesce(host, '-') || ': ' || c, ', ') FROM (SELECT state, host, count(*) c FROM pybgd_tasks GROUP BY 1, 2) t")
    raise SystemExit(f"only {psql(url, 'SELECT count(*) FROM pybgd_tasks WHERE state = $$finished$$')} of {n} finished ({states})")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pybgd")
    parser.add_argument("url")
    parser.add_argument("test", choices=["enq_batch", "enq_single", "drain", "latency", "rescue"])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--prefetch", type=int)
    args = parser.parse_args()

    name = f"pybgd_bench_{os.getpid()}"
    psql(args.url, f"CREATE DATABASE {name}")
    url = with_database(args.url, name)
    directory = tempfile.mkdtemp(prefix="pybgd-pg-bench-")
    daemons: list[Daemon] = []
    out: dict = {"lib": "pybgd", "test": args.test, "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        first = Daemon(args.pybgd, url, "host-1", directory, prefetch=args.prefetch)
        daemons.append(first)
        if args.test in ("enq_batch", "drain"):
            assert first.request("PAUSE default").startswith("OK")
            started = time.perf_counter()
            replies = pipelined(first, args.n, "SUBMIT noop")
            elapsed = time.perf_counter() - started
            refused = [r for r in replies if not r.startswith("OK")]
            if refused:
                raise SystemExit(f"{len(refused)} submissions refused: {refused[0]}")
            if args.test == "enq_batch":
                out.update({"n": args.n, "window": 1000, "per_s": round(args.n / elapsed, 1)})
            else:
                for index in range(2, args.hosts + 1):
                    daemons.append(Daemon(args.pybgd, url, f"host-{index}", directory, prefetch=args.prefetch))
                resumed = time.perf_counter()
                assert first.request("RESUME default").startswith("OK")
                wait_finished(url, args.n)
                wall = time.perf_counter() - resumed
                span = float(psql(url, "SELECT extract(epoch FROM max(ended_at) - min(ended_at)) FROM pybgd_tasks"))
                hosts = psql(url, "SELECT string_agg(host || ':' || c, ' ') FROM (SELECT host, count(*) c FROM pybgd_tasks GROUP BY host ORDER BY host) t")
                out.update(
                    {
                        "n": args.n, "hosts": args.hosts, "per_s": round((args.n - 1) / span, 1),
                        "wall_per_s": round(args.n / wall, 1), "ran": hosts, "prefetch": args.prefetch,
                    }
                )
        elif args.test == "enq_single":
            assert first.request("PAUSE default").startswith("OK")
            per_client = args.n // args.clients
            failures: list[str] = []

            def client() -> None:
                with first.connect() as s:
                    reader = s.makefile("rb")
                    for _ in range(per_client):
                        s.sendall(b"SUBMIT noop\n")
                        reply = reader.readline().decode()
                        if not reply.startswith("OK"):
                            failures.append(reply)

            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            if failures:
                raise SystemExit(f"{len(failures)} submissions refused: {failures[0]}")
            total = per_client * args.clients
            out.update({"n": total, "clients": args.clients, "per_s": round(total / elapsed, 1)})
        elif args.test == "latency":
            events = first.connect()
            events.sendall(b"EVENTS event=started\n")
            reader = events.makefile("rb")
            assert reader.readline().startswith(b"OK")
            submitter = first.connect()
            replies = submitter.makefile("rb")
            starts: dict[str, float] = {}
            sent: dict[str, float] = {}
            latencies: list[float] = []
            count = args.n + 10
            next_at = time.time()
            for index in range(count):
                next_at += args.gap
                time.sleep(max(0, next_at - time.time()))
                before = time.time()
                submitter.sendall(b"SUBMIT noop\n")
                task = json.loads(replies.readline().decode().split(" ", 1)[1])["id"]
                sent[task] = before
                # The started event may come before the reply: read what is there.
                while task not in starts:
                    line = reader.readline().decode()
                    event = json.loads(line.split(" ", 1)[1])
                    starts[event["id"]] = event["at"]
                if index >= 10:
                    latencies.append((starts[task] - sent[task]) * 1000)
            out.update(
                {
                    "n": args.n, "gap_s": args.gap, "p50_ms": round(percentile(latencies, 50), 3),
                    "p99_ms": round(percentile(latencies, 99), 3), "max_ms": round(max(latencies), 3),
                }
            )
        elif args.test == "rescue":
            reply = first.request("SUBMIT sleep 30")
            task = json.loads(reply.split(" ", 1)[1])["id"]
            uuid = f"{task[:8]}-{task[8:12]}-{task[12:16]}-{task[16:20]}-{task[20:]}"
            deadline = time.time() + 30
            while psql(url, f"SELECT host FROM pybgd_tasks WHERE id = '{uuid}' AND state = 'running'") != "host-1":
                if time.time() > deadline:
                    raise SystemExit("the task never ran on host-1")
                time.sleep(0.01)
            second = Daemon(args.pybgd, url, "host-2", directory)
            daemons.append(second)
            time.sleep(1)
            first.process.send_signal(signal.SIGKILL)
            killed = time.time()
            first.process.wait()
            while psql(url, f"SELECT host FROM pybgd_tasks WHERE id = '{uuid}' AND state = 'running'") != "host-2":
                if time.time() > killed + 120:
                    raise SystemExit("not rescued within 120 s")
                time.sleep(0.01)
            out.update({"lease_s": 15, "rescued_after_s": round(time.time() - killed, 2)})
    finally:
        for daemon in daemons:
            daemon.stop()
        if os.environ.get("PYBGD_BENCH_TABLE_STATS"):
            # Row versions written: an update that is not HOT also writes an entry in every index.
            print(psql(url, "SELECT 'updates ' || n_tup_upd || ', hot ' || n_tup_hot_upd || ', inserts ' || n_tup_ins "
                       "FROM pg_stat_user_tables WHERE relname = 'pybgd_tasks'"), file=sys.stderr)
        if os.environ.get("PYBGD_BENCH_KEEP"):
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
        psql(args.url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
