#!/usr/bin/env bash
# compare_builds.sh PYBGD... : several pybgd builds measured side by side, interleaved over three
# rounds, each beside beanstalkd 1.12 -b: pipelined SUBMIT noop (window 1,000; N tasks, default
# 200,000) in memory and with the SQLite store, the daemon's CPU time for that run (clock ticks,
# utime+stime, 100 per second) until the last task ended, and durable sequential round trips.
# Used to compare a change against the revision before it:
#   git worktree add /tmp/old HEAD~3 && (cd /tmp/old && swift build -c release --product pybgd)
#   swift build -c release --product pybgd
#   N=100000 scripts/benchmarks/compare_builds.sh /tmp/old/.build/release/pybgd .build/release/pybgd
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/pybgd-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
gcc -O2 -o "$work/uds" "$here/uds_bench.c"
bins=()
for bin in "$@"; do bins+=("$(realpath "$bin")"); done
set -- "${bins[@]}"
cd "$work"
for r in 1 2 3; do
 for bin in "$@"; do
  for mode in mem dur; do
   d=$(mktemp -d "$work/run.XXXX"); : > $d/c.yaml
   st=memory; [ $mode = dur ] && st=$d/state/p.sqlite
   $bin --config $d/c.yaml --socket $d/s.sock --state $st 2>$d/log >/dev/null & pid=$!
   until ./uds sequential $d/s.sock 1 PING >/dev/null 2>&1; do sleep 0.01; done
   c0=$(awk '{print $14+$15}' /proc/$pid/stat)
   p=$(./uds pipelined $d/s.sock ${N:-200000} 'SUBMIT noop' 1000 2>/dev/null | awk '{print $4}')
   l=$(./uds sequential $d/s.sock 1 LATEST 2>&1 >/dev/null | sed -n 's/.*"latest_id":"\([0-9a-f]*\)".*/\1/p'); ./uds sequential $d/s.sock 1 "WAIT $l 120" >/dev/null 2>&1
   c1=$(awk '{print $14+$15}' /proc/$pid/stat); cpu="cpu_ticks=$((c1-c0))" 
   s=""; [ $mode = dur ] && s=$(./uds sequential $d/s.sock 2000 'SUBMIT noop' 2>/dev/null | awk '{print $4}')
   echo "round $r $bin $mode pipelined $p $cpu sequential $s"
   ./uds sequential $d/s.sock 1 "SHUTDOWN nowait" >/dev/null 2>&1; wait $pid; rm -rf $d
  done
 done
 d=$(mktemp -d "$work/bs.XXXX"); mkdir $d/b; beanstalkd -l unix:$d/b.sock -b $d/b & b=$!
 until [ -S $d/b.sock ]; do sleep 0.01; done
 echo "round $r beanstalkd-b pipelined $(./uds pipelined $d/b.sock ${N:-200000} 'put 0 0 60 1\r\nx\r\n' 1000 2>/dev/null | awk '{print $4}')"
 kill $b; wait $b 2>/dev/null; rm -rf $d
done
