#!/usr/bin/env bash
# thread_ticks.sh ROUNDS PYBGD... : pybgd builds side by side, interleaved over ROUNDS rounds: each
# takes N pipelined `SUBMIT noop` in memory (window 1,000; N default 100,000), and the CPU time of
# its event-loop thread and of the whole daemon until the last task ended is printed, in clock
# ticks (utime+stime, 1/100 s), with the rate. CPU ticks swing less than rates on a noisy machine.
#   N=100000 scripts/benchmarks/thread_ticks.sh 5 /tmp/old/.build/release/pybgd .build/release/pybgd
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/pybgd-ticks.XXXXXX)
trap 'rm -rf "$work"' EXIT
gcc -O2 -o "$work/uds" "$here/uds_bench.c"
rounds=$1
shift
bins=()
for bin in "$@"; do bins+=("$(realpath "$bin")"); done
ticks() { awk '{print $14 + $15}' "$1"; }
for round in $(seq 1 "$rounds"); do
    for bin in "${bins[@]}"; do
        dir=$(mktemp -d "$work/run.XXXX")
        : >"$dir/c.yaml"
        "$bin" --config "$dir/c.yaml" --socket "$dir/s.sock" --state memory 2>"$dir/log" >/dev/null &
        pid=$!
        until "$work/uds" sequential "$dir/s.sock" 1 PING >/dev/null 2>&1; do sleep 0.01; done
        loop=$(for task in /proc/$pid/task/*; do [ "$(cat "$task/comm")" = "NIO-ELT-1-#1" ] && echo "$task"; done)
        loop0=$(ticks "$loop/stat")
        all0=$(ticks "/proc/$pid/stat")
        rate=$("$work/uds" pipelined "$dir/s.sock" "${N:-100000}" 'SUBMIT noop' 1000 2>/dev/null | awk '{print $4}')
        latest=$("$work/uds" sequential "$dir/s.sock" 1 LATEST 2>&1 >/dev/null | sed -n 's/.*"latest_id":"\([0-9a-f]*\)".*/\1/p')
        "$work/uds" sequential "$dir/s.sock" 1 "WAIT $latest 120" >/dev/null 2>&1
        echo "round $round $bin pipelined/s $rate event-loop-ticks $(($(ticks "$loop/stat") - loop0)) daemon-ticks $(($(ticks "/proc/$pid/stat") - all0))"
        "$work/uds" sequential "$dir/s.sock" 1 "SHUTDOWN nowait" >/dev/null 2>&1
        wait "$pid"
        rm -rf "$dir"
    done
done
