#!/usr/bin/env python3
"""The APScheduler side of the schedule benchmark (scripts/bench): a 100 ms interval job and a
per-second cron job on one BackgroundScheduler with 2 worker threads for SECONDS, then 10,000 jobs
that do not fire during a 10 s idle window. Prints the same JSON as
`PyBackgroundBenchmarks --schedules SECONDS`, measured the same way."""
import json
import math
import lateness_report
import resource
import sys
import threading
import time

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from datetime import datetime, timedelta, timezone


def lateness(times, grid, period, end):
    late, covered = [], set()
    for t in times:
        index = math.floor((t - grid) / period)
        late.append((t - grid - index * period) * 1000)
        covered.add(index)
    return lateness_report.report(late, covered, grid, period, end)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    seconds = float(sys.argv[1])
    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(2)}, timezone=timezone.utc)
    scheduler.start()
    lock = threading.Lock()
    interval_times, cron_times = [], []

    def record(times):
        now = time.time()
        with lock:
            times.append(now)

    registered = time.time()
    start = registered + 0.5
    interval = scheduler.add_job(record, IntervalTrigger(seconds=0.1, start_date=datetime.fromtimestamp(start, timezone.utc)),
                                 args=[interval_times])
    cron = scheduler.add_job(record, CronTrigger(second="*", timezone=timezone.utc), args=[cron_times])
    time.sleep(0.5 + seconds)
    interval.remove()
    cron.remove()
    end = time.time()
    report = {"seconds": seconds,
              "interval100ms": lateness(interval_times, start, 0.1, end),
              "cronEverySecond": lateness(cron_times, math.ceil(registered), 1.0, end)}
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    for index in range(10_000):
        if index % 2 == 0:
            scheduler.add_job(lambda: None, IntervalTrigger(hours=1, start_date=later))
        else:
            scheduler.add_job(lambda: None, CronTrigger(hour=3, minute=0, timezone=timezone.utc))
    time.sleep(1)
    before, wall = cpu_seconds(), time.time()
    time.sleep(10)
    report["idleCoreShareWith10kSchedules"] = (cpu_seconds() - before) / (time.time() - wall)
    scheduler.shutdown(wait=False)
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
