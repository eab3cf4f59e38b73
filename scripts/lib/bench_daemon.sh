# The daemon benchmarks of scripts/bench (sourced): pybgd against a raw Unix-socket ping-pong and
# beanstalkd 1.12, all driven by the same C client, interleaved over several rounds.
# shellcheck shell=bash

# pybgd_start DIR CONFIG-TEXT: starts the release pybgd on DIR/pybgd.sock, waits for it, prints its pid.
pybgd_start() {
    local dir=$1 config=$2
    printf '%s\n' "$config" >"$dir/pybgd.yaml"
    "$ROOT/.build/release/pybgd" --config "$dir/pybgd.yaml" --socket "$dir/pybgd.sock" >/dev/null 2>>"$dir/pybgd.log" &
    local pid=$! tries=0
    until "$uds" sequential "$dir/pybgd.sock" 1 PING >/dev/null 2>&1; do
        tries=$((tries + 1)); [ $tries -lt 2000 ] || die "pybgd did not start: $(cat "$dir/pybgd.log")"
        sleep 0.01
    done
    echo "$pid"
}

pybgd_stop() {
    local dir=$1 pid=$2
    "$uds" sequential "$dir/pybgd.sock" 1 "SHUTDOWN nowait" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# rate MODE ARGS…: the per-second figure of one uds_bench run.
rate() { "$uds" "$@" 2>/dev/null | awk '{print $4}'; }

bench_daemon() {
    local rounds=$1 sequential_count=$2 pipelined_count=$3 window=1000
    local dir
    dir=$(mktemp -d /tmp/pybgd-bench.XXXXXX)
    uds="$dir/uds_bench"
    gcc -O2 -o "$uds" "$ROOT/scripts/benchmarks/uds_bench.c"

    # The shipped defaults (keep_finished 10000, max_pending 100000), as a user would run it.
    local pid
    pid=$(pybgd_start "$dir" "")
    local idle_rss
    idle_rss=$(rss_kib "$pid")
    beanstalkd -l "unix:$dir/beanstalkd.sock" &
    local beanstalk=$!
    until [ -S "$dir/beanstalkd.sock" ]; do sleep 0.01; done

    local round
    for round in $(seq 1 "$rounds"); do
        echo "{\"round\": $round,"\
             "\"pingpong\": $(rate pingpong "$sequential_count"),"\
             "\"pybgd_sequential\": $(rate sequential "$dir/pybgd.sock" "$sequential_count" 'SUBMIT noop'),"\
             "\"pybgd_pipelined\": $(rate pipelined "$dir/pybgd.sock" "$pipelined_count" 'SUBMIT noop' $window),"\
             "\"beanstalkd_pipelined\": $(rate pipelined "$dir/beanstalkd.sock" "$pipelined_count" 'put 0 0 60 1\r\nx\r\n' $window),"\
             "\"beanstalkd_sequential\": $(rate sequential "$dir/beanstalkd.sock" "$sequential_count" 'put 0 0 60 1\r\nx\r\n')}"
    done
    kill "$beanstalk"; wait "$beanstalk" 2>/dev/null || true
    pybgd_stop "$dir" "$pid"

    # RSS with 100,000 finished tasks kept in the tables.
    pid=$(pybgd_start "$dir" "scheduler: {keep_finished: 100000}")
    local before
    before=$(rss_kib "$pid")
    "$uds" pipelined "$dir/pybgd.sock" 100000 'SUBMIT noop' $window >/dev/null 2>&1
    "$uds" sequential "$dir/pybgd.sock" 1 "WAIT $("$uds" sequential "$dir/pybgd.sock" 1 LATEST 2>&1 >/dev/null | sed 's/.*"latest_id":"\([0-9a-f]*\)".*/\1/') 60" >/dev/null 2>&1
    local retained
    retained=$(rss_kib "$pid")
    pybgd_stop "$dir" "$pid"
    echo "{\"idle_rss_kib\": $idle_rss, \"fresh_rss_kib\": $before, \"rss_100k_finished_kib\": $retained}"
    rm -rf "$dir"
}

# bench_client RUNS: whole-process time of `pybgctl submit noop` (fully static release build)
# against `tsp true` (task-spooler), with hyperfine, in one run. Prints one JSON line.
bench_client() {
    local runs=$1 dir
    dir=$(mktemp -d /tmp/pybgctl-bench.XXXXXX)
    uds="$dir/uds_bench"
    gcc -O2 -o "$uds" "$ROOT/scripts/benchmarks/uds_bench.c"
    local pid
    pid=$(pybgd_start "$dir" "")
    export TS_SOCKET="$dir/tsp.sock" TS_MAXFINISHED=1000 PYBGD_SOCKET="$dir/pybgd.sock"
    tsp true >/dev/null   # starts tsp's server, as pybgd is already running
    hyperfine -N --warmup 20 --runs "$runs" --export-json "$dir/hyperfine.json" \
        'tsp true' "$ROOT/.build-static/release/pybgctl submit noop" >/dev/null 2>&1
    tsp -K >/dev/null 2>&1 || true
    pybgd_stop "$dir" "$pid"
    python3 -c '
import json, sys
results = json.load(open(sys.argv[1]))["results"]
print(json.dumps({"client": {r["command"].split("/")[-1]: {"median_ms": r["median"] * 1000, "mean_ms": r["mean"] * 1000} for r in results}}))
' "$dir/hyperfine.json"
    rm -rf "$dir"
}
