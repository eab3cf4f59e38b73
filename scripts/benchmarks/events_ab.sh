#!/usr/bin/env bash
# Issue 18's two speed checks, interleaved, on the release build:
#   listener off: this tree's pybgd beside BASELINE (another build of pybgd), both in memory;
#   watched: this tree's pybgd with http.listen and one EVENTS reader that keeps up, beside the
#   same without listener.
# Each round: 200,000 pipelined `SUBMIT noop` (window 1000) to each, in turn, starting one later
# each round (whichever runs first runs faster on a 2-core machine: the same binary measured 8%
# apart by position alone). Prints one line per round (base plain watched) and the medians' ratios.
#   scripts/benchmarks/events_ab.sh ROUNDS BASELINE-PYBGD
source "$(dirname "$0")/../lib/common.sh"
rounds=${1:-5} baseline=${2:?give the baseline pybgd binary (scripts/bench --baseline REV builds one)}
dir=$(mktemp -d /tmp/pybgd-events-ab.XXXXXX)
trap 'pkill -P $$ 2>/dev/null; rm -rf "$dir"' EXIT
gcc -O2 -o "$dir/uds" "$ROOT/scripts/benchmarks/uds_bench.c"
new="$ROOT/.build/release/pybgd"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "" >"$dir/plain.yaml"
echo "http: {listen: \"127.0.0.1:$port\"}" >"$dir/watched.yaml"
"$baseline" --config "$dir/plain.yaml" --socket "$dir/base.sock" --state memory --log-level warning 2>/dev/null &
"$new" --config "$dir/plain.yaml" --socket "$dir/plain.sock" --state memory --log-level warning 2>/dev/null &
"$new" --config "$dir/watched.yaml" --socket "$dir/watched.sock" --state memory --log-level warning 2>/dev/null &
for name in base plain watched; do until [ -S "$dir/$name.sock" ]; do sleep 0.05; done; done
"$dir/uds" watch "$dir/watched.sock" EVENTS >/dev/null 2>&1 &
sleep 0.5
rate() { "$dir/uds" pipelined "$dir/$1.sock" 200000 'SUBMIT noop' 1000 2>/dev/null | awk '{print $4}'; sleep 1; }
names=(base plain watched)
for round in $(seq 1 "$rounds"); do
    declare -A measured=()
    for k in 0 1 2; do name=${names[$(((k + round) % 3))]}; measured[$name]=$(rate "$name"); done
    echo "${measured[base]} ${measured[plain]} ${measured[watched]}"
done | tee "$dir/rounds"
python3 - "$dir/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
base, plain, watched = (statistics.median(r[i] for r in rows) for i in range(3))
print(f"medians /s: baseline {base:,.0f}, this tree {plain:,.0f}, watched {watched:,.0f}")
print(f"listener off, this tree / baseline: {plain / base:.2f}; watched / listener off: {watched / plain:.2f}")
PY
