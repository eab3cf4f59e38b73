#!/usr/bin/env python3
"""Turns the JSON of the benchmark runs into the markdown tables of BENCHMARKS.md (ratios first)."""
import json
import os
import statistics
import sys


def core_tables(swift, python):
    rows = []
    out = rows.append
    n = swift["tasks"]
    ours = swift["throughput"]["pybackground"]["tasksPerSecond"]
    floor = swift["throughput"]["minimal-pool"]["tasksPerSecond"]
    dispatch = swift["throughput"]["dispatch"]["tasksPerSecond"]
    ours10 = swift["throughputAt10k"]["pybackground"]["tasksPerSecond"]
    floor10 = swift["throughputAt10k"]["minimal-pool"]["tasksPerSecond"]
    out(f"### Scheduler core: {n:,} no-op tasks on {swift['workers']} workers (median of {swift['runs']} runs)")
    out("")
    out("| contender | N | tasks/s | µs per start | ours ÷ it |")
    out("|---|---:|---:|---:|---:|")
    for label, table, count in (("N", swift["throughput"], n), ("10k", swift["throughputAt10k"], 10000)):
        base = table["pybackground"]["tasksPerSecond"]
        for name in ("pybackground", "minimal-pool", "dispatch"):
            r = table[name]
            out(f"| {'PyBackground (Swift)' if name == 'pybackground' else name} | {count:,} | "
                f"{r['tasksPerSecond']:,.0f} | {r['startMicroseconds']:.2f} | {base / r['tasksPerSecond']:.2f} |")
    for count, r in sorted(python.get("throughput", {}).items(), key=lambda kv: int(kv[0])):
        ref = ours10 if int(count) <= 10000 else ours
        out(f"| pybackground 0.1.2 (Python) | {int(count):,} | {r['tasksPerSecond']:,.0f} | "
            f"{r['startMicroseconds']:.2f} | {ref / r['tasksPerSecond']:.0f} |")
    for count, why in sorted(python.get("failures", {}).items()):
        out(f"| pybackground 0.1.2 (Python) | {count} | failed: {why} | | |")
    out("")
    py10 = python.get("throughput", {}).get("10000")
    out("| target | measured | met |")
    out("|---|---|---|")
    if py10:
        ratio = ours10 / py10["tasksPerSecond"]
        out(f"| ≥ 100× the original's throughput at N = 10,000 | {ratio:,.0f}× | {'yes' if ratio >= 100 else 'no'} |")
    for label, o, f in ((f"N = {n:,}", ours, floor), ("N = 10,000", ours10, floor10)):
        out(f"| within 2× of the minimal pool, {label} | {f / o:.2f}× slower | {'yes' if f / o <= 2 else 'no'} |")
    sleep = swift["sleepWorkloadSeconds"]
    out(f"| 200 × 10 ms sleeps on 2 workers ≤ 1.1 s (ideal 1.0) | {sleep:.3f} s | {'yes' if sleep <= 1.1 else 'no'} |")
    out("")
    out("| start → body latency, idle pool | p50 µs | p99 µs |")
    out("|---|---:|---:|")
    for name, r in sorted(swift["latency"].items()):
        out(f"| {name} | {r['p50Microseconds']:.1f} | {r['p99Microseconds']:.1f} |")
    out("")
    py_bytes = python.get("bytesRetainedPerTask")
    out(f"Bytes retained per finished task (tables unbounded, as the seed): Swift {swift['bytesRetainedPerTask']:.0f}"
        + (f", Python original {py_bytes:.0f} (tracemalloc)" if py_bytes else "") + ".")
    if dispatch:
        out(f"DispatchQueue is listed for reference: ours ÷ Dispatch at N = {n:,} is {ours / dispatch:.2f}.")
    return rows


def daemon_tables(path):
    rounds, memory, client, commands, completion = [], {}, {}, {}, {}
    for line in open(path):
        entry = json.loads(line)
        if "round" in entry:
            rounds.append(entry)
        elif "client" in entry:
            client = entry["client"]
        elif "commands" in entry:
            commands = entry["commands"]
        elif "completion" in entry:
            completion = entry["completion"]
        else:
            memory.update(entry)
    med = lambda key: statistics.median(r[key] for r in rounds)
    rows = [f"### Daemon: one connection over a Unix socket, median of {len(rounds)} interleaved rounds", "",
            "| measurement | per second | ratio |", "|---|---:|---:|"]
    # Ratios: for round trips, the ping-pong's rate over this one (1.10 = 10% slower); for the
    # pipelined rows, this rate over beanstalkd's (above 1 = faster).
    ping, seq = med("pingpong"), med("pybgd_sequential")
    pipe, bean = med("pybgd_pipelined"), med("beanstalkd_pipelined")
    rows.append(f"| raw ping-pong between two processes (C, socketpair) | {ping:,.0f} | 1.00 |")
    rows.append(f"| pybgd sequential `SUBMIT noop` round trips (C client) | {seq:,.0f} | {ping / seq:.2f} |")
    rows.append(f"| beanstalkd sequential `put` round trips | {med('beanstalkd_sequential'):,.0f} | {ping / med('beanstalkd_sequential'):.2f} |")
    rows.append(f"| pybgd pipelined `SUBMIT noop` (window 1000) | {pipe:,.0f} | {pipe / bean:.2f}× beanstalkd |")
    rows.append(f"| beanstalkd 1.12 pipelined `put` (window 1000) | {bean:,.0f} | 1.00 |")
    short = "pybgd_pipelined_short" in rounds[0]
    if short:
        pipe_short, bean_short = med("pybgd_pipelined_short"), med("beanstalkd_pipelined_short")
        rows.append(f"| pybgd pipelined `SUBMIT noop`, a shorter burst | {pipe_short:,.0f} | {pipe_short / bean_short:.2f}× beanstalkd |")
        rows.append(f"| beanstalkd pipelined `put`, the same shorter burst | {bean_short:,.0f} | 1.00 |")
    rows += ["", "| target | measured | met |", "|---|---|---|",
             f"| sequential round trips within 1.3× of the raw ping-pong | {ping / seq:.2f}× | {'yes' if ping / seq <= 1.3 else 'no'} |",
             f"| pipelined submits ≥ beanstalkd's pipelined put | {pipe / bean:.2f}× | {'yes' if pipe >= bean else 'no'} |"]
    if short:
        rows.append(f"| the same, the shorter burst | {pipe_short / bean_short:.2f}× | {'yes' if pipe_short >= bean_short else 'no'} |")
    rows += [
             "", "Per round (pipelined, pybgd / beanstalkd): "
             + ", ".join(f"{r['pybgd_pipelined']:,.0f} / {r['beanstalkd_pipelined']:,.0f}" for r in rounds) + ".", ""]
    if "watched_pipelined" in rounds[0]:
        watched = med("watched_pipelined")
        rows += ["### Watched: metrics on and one EVENTS reader, beside the plain daemon, same rounds", "",
                 "| measurement | per second | ratio |", "|---|---:|---:|",
                 f"| pybgd pipelined `SUBMIT noop`, in memory, no listener | {pipe:,.0f} | 1.00 |",
                 f"| the same with `http.listen` (metrics count every event) and `EVENTS` read by one client | {watched:,.0f} | {watched / pipe:.2f} |",
                 "", f"| target | measured | met |", "|---|---|---|",
                 f"| watched within 15% of the plain daemon | {watched / pipe:.2f}× | {'yes' if watched >= 0.85 * pipe else 'no'} |",
                 "", "Per round (pipelined, plain / watched): "
                 + ", ".join(f"{r['pybgd_pipelined']:,.0f} / {r['watched_pipelined']:,.0f}" for r in rounds) + ".", ""]
    if "durable_pipelined" in rounds[0]:
        durable, binlog = med("durable_pipelined"), med("binlog_pipelined")
        dseq, bseq = med("durable_sequential"), med("binlog_sequential")
        rows += ["### Durable submissions: pybgd's SQLite state store beside beanstalkd's binlog, same rounds", "",
                 "| measurement | per second | ratio |", "|---|---:|---:|",
                 f"| pybgd pipelined `SUBMIT noop`, state store (acknowledged after fsync) | {durable:,.0f} | {durable / binlog:.2f}× beanstalkd -b |",
                 f"| beanstalkd 1.12 `-b DIR` pipelined `put` (default `-f 50`: fsync after the reply) | {binlog:,.0f} | 1.00 |",
                 f"| pybgd pipelined `SUBMIT noop`, `--state memory` | {pipe:,.0f} | {pipe / durable:.2f}× the state store |",
                 f"| pybgd sequential `SUBMIT noop` round trips, state store (one fsync each) | {dseq:,.0f} | {dseq / bseq:.2f}× beanstalkd -b |",
                 f"| beanstalkd `-b DIR` sequential `put` round trips | {bseq:,.0f} | 1.00 |",
                 "", "Per round (pipelined, durable pybgd / beanstalkd -b / pybgd in memory): "
                 + ", ".join(f"{r['durable_pipelined']:,.0f} / {r['binlog_pipelined']:,.0f} / {r['pybgd_pipelined']:,.0f}" for r in rounds) + ".", ""]
    if "base_pipelined" in rounds[0]:
        name = os.environ.get("PYBGD_BASELINE_NAME", "the baseline")
        rows += [f"### Before and after: pybgd as built from {name} (before) and this tree (after), same rounds", "",
                 "| measurement | before /s | after /s | after ÷ before |", "|---|---:|---:|---:|"]
        for label, before, after in (
                ("sequential `SUBMIT noop` round trips, in memory", "base_sequential", "pybgd_sequential"),
                ("pipelined `SUBMIT noop` (window 1000), in memory", "base_pipelined", "pybgd_pipelined"),
                ("pipelined `SUBMIT noop` (window 1000), state store", "base_durable_pipelined", "durable_pipelined"),
                ("sequential `SUBMIT noop` round trips, state store (one fsync each)", "base_durable_sequential", "durable_sequential")):
            b, a = med(before), med(after)
            rows.append(f"| {label} | {b:,.0f} | {a:,.0f} | {a / b:.2f} |")
        rows += ["", "Per round (pipelined state store, before / after): "
                 + ", ".join(f"{r['base_durable_pipelined']:,.0f} / {r['durable_pipelined']:,.0f}" for r in rounds) + ".", ""]
    if memory:
        rows.append(f"RSS: idle {memory['idle_rss_kib'] / 1024:.1f} MiB; with 100,000 finished tasks retained "
                    f"{memory['rss_100k_finished_kib'] / 1024:.1f} MiB (fresh daemon before them: {memory['fresh_rss_kib'] / 1024:.1f} MiB, "
                    f"so {(memory['rss_100k_finished_kib'] - memory['fresh_rss_kib']) * 1024 / 100000:.0f} bytes per retained task).")
        if "anon_after_bursts_kib" in memory:
            bursts = memory["anon_after_bursts_kib"]
            rows.append(f"Anonymous RSS (heap and stacks): idle {memory['idle_anon_kib'] / 1024:.1f} MiB; with 100,000 finished tasks "
                        f"retained {memory['anon_100k_finished_kib'] / 1024:.1f} MiB; after each of {len(bursts)} more bursts of 100,000 "
                        f"(the same number retained): " + ", ".join(f"{k / 1024:.1f}" for k in bursts) + " MiB "
                        f"(last − first: {(bursts[-1] - bursts[0]) / 1024:+.1f} MiB).")
        if "peak_rss_futures_all_kib" in memory:
            rows.append(f"Answering `FUTURES all` for those 100,000 tasks: peak RSS {memory['peak_rss_futures_all_kib'] / 1024:.1f} MiB, "
                        f"{(memory['peak_rss_futures_all_kib'] - memory['rss_100k_finished_kib']) / 1024:.1f} MiB above the RSS before it.")
    if client:
        def row(label, entry, versus):
            instructions = f"{entry['instructions'] / 1e6:.2f} M" if "instructions" in entry else "—"
            ratio = f"{entry['median_ms'] / versus['median_ms']:.2f}" if versus else ""
            return f"| {label} | {entry['median_ms']:.2f} | {entry['mean_ms']:.2f} | {ratio} | {instructions} |"
        rows += ["", "### Client start-up: whole process, hyperfine medians; instructions from callgrind", "",
                 "| command | median ms | mean ms | × its tsp counterpart (median) | instructions |", "|---|---:|---:|---:|---:|"]
        rows += [row(f"`{name}` (task-spooler)", entry, None) for name, entry in client.items() if name.startswith("tsp")]
        verdicts = []
        for name, entry in client.items():
            if "versus" not in entry:
                continue
            versus = client[entry["versus"]]
            through = " (through ArgumentParser)" if name.endswith(" --") else ""
            rows.append(row(f"`{name}`{through} vs `{entry['versus']}`", entry, versus))
            if not through:
                verdicts.append((name, entry["median_ms"] / versus["median_ms"]))
        worst = max(verdicts, key=lambda v: v[1])
        rows += ["", f"Target: every command at most 2× its tsp counterpart's median. Slowest: `{worst[0]}`, "
                 f"{worst[1]:.2f}× — {'met' if all(r <= 2 for _, r in verdicts) else 'not met'}."]
    if completion:
        ours, theirs = completion["pybgd_seconds"], completion["beanstalkd_seconds"]
        ratio = statistics.median(theirs) / statistics.median(ours)
        count = completion["count"]
        rows += ["", f"### Submit to completion: {count:,} no-op jobs in memory, 2 workers", "",
                 "| what | median s [min–max] | jobs/s |", "|---|---:|---:|",
                 f"| pybgd: `SUBMIT noop` pipelined (window 1000), until the last has ended | {statistics.median(ours):.3f} [{min(ours):.3f}–{max(ours):.3f}] | {count / statistics.median(ours):,.0f} |",
                 f"| beanstalkd 1.12: `put` pipelined (window 1000), two C workers `reserve` + `delete` | {statistics.median(theirs):.3f} [{min(theirs):.3f}–{max(theirs):.3f}] | {count / statistics.median(theirs):,.0f} |",
                 "", f"pybgd finished {', '.join(str(n) for n in completion['pybgd_finished'])} of {count:,} in its rounds. "
                 f"Target: at least 3× beanstalkd with its workers. Measured: {ratio:.2f}× — {'met' if ratio >= 3 else 'not met'}."]
    if commands:
        rate = commands["finished"] / commands["seconds"]
        floor = commands["count"] / commands["floor_seconds"]
        rows += ["", "### Command tasks: start to end, 2 workers", "",
                 "| what | tasks/s | × the floor's time |", "|---|---:|---:|",
                 f"| pybgd: {commands['count']:,} `true` command tasks pipelined, each under pybgd-exec (two process starts a task) | {rate:,.0f} | {commands['seconds'] / commands['floor_seconds']:.2f} |",
                 f"| floor: `seq {commands['count']} \\| xargs -P 2 -n 1 true` (one process start a task) | {floor:,.0f} | 1.00 |"]
    return rows


def schedule_table(path):
    """Three JSON lines: the library's, APScheduler's, then the daemon's, from the same run."""
    ours, theirs, daemon = [json.loads(line) for line in open(path) if line.strip()]
    rows = [f"### Schedules: lateness over {ours['seconds']:.0f} s (actual start − planned), one scheduler with 2 workers", "",
            "| schedule | contender | firings / expected | missed | p50 ms | p99 ms | max ms |", "|---|---|---:|---:|---:|---:|---:|"]
    for key, label in (("interval100ms", "100 ms interval"), ("cronEverySecond", "cron `* * * * * *`")):
        for name, report in (("PyBackground", ours), ("APScheduler 3.11", theirs)):
            r = report[key]
            rows.append(f"| {label} | {name} | {r['firings']} / {r['expected']} | {r['missed']} | {r['p50Milliseconds']:.2f} | "
                        f"{r['p99Milliseconds']:.2f} | {r['maxMilliseconds']:.2f} |")
    for key, label in (("cronEverySecond", "cron `* * * * * *`"), ("interval1s", "1 s interval")):
        r = daemon[key]
        rows.append(f"| {label} | pybgd (daemon, SQLite; firing committed 0.5 s ahead) | {r['firings']} / {r['expected']} | {r['missed']} | "
                    f"{r['p50Milliseconds']:.2f} | {r['p99Milliseconds']:.2f} | {r['maxMilliseconds']:.2f} |")
    rows += ["", f"Idle cost of 10,000 waiting schedules (CPU over 10 s ÷ wall time): PyBackground "
             f"{ours['idleCoreShareWith10kSchedules'] * 100:.4f}% of a core, APScheduler {theirs['idleCoreShareWith10kSchedules'] * 100:.4f}%, "
             f"pybgd {daemon['idleCoreShareWith10kSchedules'] * 100:.4f}%.", ""]
    missed = ours["interval100ms"]["missed"] + ours["cronEverySecond"]["missed"]
    rows += ["| target | measured | met |", "|---|---|---|"]
    for key, label in (("interval100ms", "100 ms interval"), ("cronEverySecond", "per-second cron")):
        p99, aps = ours[key]["p99Milliseconds"], theirs[key]["p99Milliseconds"]
        rows.append(f"| {label}: p99 lateness ≤ 5 ms and ≤ APScheduler's | {p99:.2f} ms against {aps:.2f} ms | {'yes' if p99 <= 5 and p99 <= aps else 'no'} |")
    rows += [
             f"| no firing missed | {missed} missed | {'yes' if missed == 0 else 'no'} |",
             f"| 10,000 schedules cost ≤ 1% of one core when idle | {ours['idleCoreShareWith10kSchedules'] * 100:.4f}% | {'yes' if ours['idleCoreShareWith10kSchedules'] <= 0.01 else 'no'} |"]
    return rows


def load_python(path):
    """One JSON object per line: a count's result or failure, and the bytes retained per task."""
    python = {"throughput": {}, "failures": {}}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        entry = json.loads(line)
        if "bytesRetainedPerTask" in entry:
            python["bytesRetainedPerTask"] = entry["bytesRetainedPerTask"]
        elif "result" in entry:
            python["throughput"][str(entry["count"])] = entry["result"]
        else:
            python["failures"][f"{entry['count']:,}"] = entry["failure"]
    return python


def core_baseline_table(path):
    lines = [json.loads(line) for line in open(path) if line.strip()]
    timed = [l for l in lines if "tasks_per_second" in l]
    counted = {l["side"]: l["instructions"] for l in lines if "instructions" in l}
    name = os.environ.get("PYBGD_BASELINE_NAME", "the baseline")
    rows = [f"### Before and after: the scheduler core as built from {name} (before) and this tree (after)", "",
            "| measurement | before | after | after ÷ before |", "|---|---:|---:|---:|"]
    for label, key in (("100,000 no-op tasks, tasks/s (median of the rounds)", "tasks_per_second"),
                       ("10,000 no-op tasks, tasks/s (median of the rounds)", "tasks_per_second_10k")):
        before = statistics.median(l[key] for l in timed if l["side"] == "before")
        after = statistics.median(l[key] for l in timed if l["side"] == "after")
        rows.append(f"| {label} | {before:,.0f} | {after:,.0f} | {after / before:.2f} |")
    if "before" in counted and "after" in counted:
        b, a = counted["before"], counted["after"]
        rows.append(f"| instructions of the whole core benchmark (callgrind, N = 20,000; every contender) | {b:,} | {a:,} | {a / b:.3f} |")
    rows += ["", "Per round (100,000 tasks/s, before / after): " + ", ".join(
        f"{b['tasks_per_second']:,.0f} / {a['tasks_per_second']:,.0f}"
        for b, a in zip([l for l in timed if l["side"] == "before"], [l for l in timed if l["side"] == "after"])) + ".", ""]
    return rows


def main():
    swift = json.load(open(sys.argv[1]))
    python = load_python(sys.argv[2]) if len(sys.argv) > 2 else {}
    print("\n".join(core_tables(swift, python)))
    if len(sys.argv) > 4:
        print()
        print("\n".join(schedule_table(sys.argv[4])))
    if len(sys.argv) > 5:
        print()
        print("\n".join(core_baseline_table(sys.argv[5])))
    if len(sys.argv) > 3:
        print()
        print("\n".join(daemon_tables(sys.argv[3])))


if __name__ == "__main__":
    main()
