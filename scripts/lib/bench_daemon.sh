# The daemon benchmarks of scripts/bench (sourced): pybgd against a raw Unix-socket ping-pong and
# beanstalkd 1.12, all driven by the same C client, interleaved over several rounds; pybgd both in
# memory and with its SQLite state store, beanstalkd both without and with its binlog (-b).
# shellcheck shell=bash

# pybgd_start DIR CONFIG-TEXT [STATE [NAME]]: starts the release pybgd on DIR/NAME.sock (NAME: pybgd)
# with --state STATE (default: memory), waits for it, prints its pid.
pybgd_start() {
    local dir=$1 config=$2 state=${3:-memory} name=${4:-pybgd}
    printf '%s\n' "$config" >"$dir/$name.yaml"
    # PYBGD_BINARY: another build to measure the same way (e.g. an older revision's, side by side).
    "${PYBGD_BINARY:-$ROOT/.build/release/pybgd}" --config "$dir/$name.yaml" --socket "$dir/$name.sock" --state "$state" \
        >/dev/null 2>>"$dir/$name.log" &
    local pid=$! tries=0
    until "$uds" sequential "$dir/$name.sock" 1 PING >/dev/null 2>&1; do
        tries=$((tries + 1)); [ $tries -lt 2000 ] || die "pybgd did not start: $(cat "$dir/pybgd.log")"
        sleep 0.01
    done
    echo "$pid"
}

pybgd_stop() {
    local dir=$1 pid=$2 name=${3:-pybgd}
    "$uds" sequential "$dir/$name.sock" 1 "SHUTDOWN nowait" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# drain DIR NAME: waits until the latest task of pybgd NAME has ended, so that its leftover work does
# not run during the next measurement.
drain() {
    local latest
    latest=$("$uds" sequential "$1/$2.sock" 1 LATEST 2>&1 >/dev/null | sed -n 's/.*"latest_id":"\([0-9a-f]*\)".*/\1/p')
    [ -z "$latest" ] || "$uds" sequential "$1/$2.sock" 1 "WAIT $latest 120" >/dev/null 2>>"$1/uds.log" \
        || die "uds_bench, WAIT for $2's latest task: $(tail -1 "$1/uds.log")"
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# anon_kib PID: the process's anonymous resident memory (its heap and stacks; RSS less mapped files).
anon_kib() { awk '/RssAnon/ {print $2}' "/proc/$1/status"; }
# peak_rss_kib PID: the most resident memory the process has had (VmHWM).
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# rate MODE ARGS…: the per-second figure of one uds_bench run.
rate() { "$uds" "$@" 2>/dev/null | awk '{print $4}'; }

bench_daemon() {
    local rounds=$1 sequential_count=$2 pipelined_count=$3 short_count=$4 bursts=$5 window=1000
    # Durable round trips wait for an fsync each: fewer of them.
    local durable_sequential_count=$((sequential_count / 10))
    local dir
    dir=$(mktemp -d /tmp/pybgd-bench.XXXXXX)
    uds="$dir/uds_bench"
    gcc -O2 -o "$uds" "$ROOT/scripts/benchmarks/uds_bench.c"

    # The shipped defaults (keep_finished 10000, max_pending 100000), as a user would run it: one
    # pybgd in memory, one with its state store on this disk (in the same directory as beanstalkd's binlog).
    local pid durable
    pid=$(pybgd_start "$dir" "")
    durable=$(pybgd_start "$dir" "" "$dir/state/pybgd.sqlite" durable)
    local idle_rss idle_anon
    idle_rss=$(rss_kib "$pid")
    idle_anon=$(anon_kib "$pid")
    beanstalkd -l "unix:$dir/beanstalkd.sock" &
    local beanstalk=$!
    # With its binlog, at its default fsync setting (-f 50: at most one fsync per 50 ms, after the reply).
    mkdir -p "$dir/binlog"
    beanstalkd -l "unix:$dir/beanstalkd-binlog.sock" -b "$dir/binlog" &
    local binlog=$!
    until [ -S "$dir/beanstalkd.sock" ] && [ -S "$dir/beanstalkd-binlog.sock" ]; do sleep 0.01; done

    # Issue 18's "watched" daemon: in memory, its HTTP listener on (metrics count every event) and
    # one EVENTS reader that keeps up, measured in the same rounds as the plain one.
    local watched watcher http_port
    http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    watched=$(pybgd_start "$dir" "http: {listen: \"127.0.0.1:$http_port\"}" memory watched)
    "$uds" watch "$dir/watched.sock" EVENTS >/dev/null 2>&1 &
    watcher=$!

    # With --baseline: the same two daemons as built from the older revision, measured in the same rounds.
    local base_pid="" base_durable=""
    if [ -n "${PYBGD_BASELINE:-}" ]; then
        base_pid=$(PYBGD_BINARY=$PYBGD_BASELINE pybgd_start "$dir" "" memory base)
        base_durable=$(PYBGD_BINARY=$PYBGD_BASELINE pybgd_start "$dir" "" "$dir/base-state/pybgd.sqlite" base-durable)
    fi

    local round
    for round in $(seq 1 "$rounds"); do
        local base=""
        if [ -n "$base_pid" ]; then
            base="\"base_sequential\": $(rate sequential "$dir/base.sock" "$sequential_count" 'SUBMIT noop'),"\
"\"base_pipelined\": $(rate pipelined "$dir/base.sock" "$pipelined_count" 'SUBMIT noop' $window; drain "$dir" base),"\
"\"base_durable_pipelined\": $(rate pipelined "$dir/base-durable.sock" "$pipelined_count" 'SUBMIT noop' $window; drain "$dir" base-durable),"\
"\"base_durable_sequential\": $(rate sequential "$dir/base-durable.sock" "$durable_sequential_count" 'SUBMIT noop'),"
        fi
        echo "{\"round\": $round, $base"\
             "\"pingpong\": $(rate pingpong "$sequential_count"),"\
             "\"pybgd_sequential\": $(rate sequential "$dir/pybgd.sock" "$sequential_count" 'SUBMIT noop'),"\
             "\"pybgd_pipelined\": $(rate pipelined "$dir/pybgd.sock" "$pipelined_count" 'SUBMIT noop' $window; drain "$dir" pybgd),"\
             "\"pybgd_pipelined_short\": $(rate pipelined "$dir/pybgd.sock" "$short_count" 'SUBMIT noop' $window; drain "$dir" pybgd),"\
             "\"beanstalkd_pipelined_short\": $(rate pipelined "$dir/beanstalkd.sock" "$short_count" 'put 0 0 60 1\r\nx\r\n' $window),"\
             "\"watched_pipelined\": $(rate pipelined "$dir/watched.sock" "$pipelined_count" 'SUBMIT noop' $window; drain "$dir" watched),"\
             "\"beanstalkd_pipelined\": $(rate pipelined "$dir/beanstalkd.sock" "$pipelined_count" 'put 0 0 60 1\r\nx\r\n' $window),"\
             "\"beanstalkd_sequential\": $(rate sequential "$dir/beanstalkd.sock" "$sequential_count" 'put 0 0 60 1\r\nx\r\n'),"\
             "\"durable_pipelined\": $(rate pipelined "$dir/durable.sock" "$pipelined_count" 'SUBMIT noop' $window; drain "$dir" durable),"\
             "\"binlog_pipelined\": $(rate pipelined "$dir/beanstalkd-binlog.sock" "$pipelined_count" 'put 0 0 60 1\r\nx\r\n' $window),"\
             "\"durable_sequential\": $(rate sequential "$dir/durable.sock" "$durable_sequential_count" 'SUBMIT noop'),"\
             "\"binlog_sequential\": $(rate sequential "$dir/beanstalkd-binlog.sock" "$durable_sequential_count" 'put 0 0 60 1\r\nx\r\n')}"
    done
    kill "$beanstalk" "$binlog"; wait "$beanstalk" "$binlog" 2>/dev/null || true
    local scraped
    scraped=$(python3 -c "import urllib.request; print(sum(1 for l in urllib.request.urlopen('http://127.0.0.1:$http_port/metrics').read().decode().splitlines() if l.startswith('pybgd_tasks_completed_total')))")
    pybgd_stop "$dir" "$watched" watched
    wait "$watcher" 2>/dev/null || true
    [ "$scraped" -ge 1 ] || say "warning: the watched daemon's /metrics showed no completed tasks"
    pybgd_stop "$dir" "$durable" durable
    pybgd_stop "$dir" "$pid"
    if [ -n "$base_pid" ]; then
        pybgd_stop "$dir" "$base_durable" base-durable
        pybgd_stop "$dir" "$base_pid" base
    fi

    # RSS with 100,000 finished tasks kept in the tables.
    pid=$(pybgd_start "$dir" "scheduler: {keep_finished: 100000}")
    local before
    before=$(rss_kib "$pid")
    "$uds" pipelined "$dir/pybgd.sock" 100000 'SUBMIT noop' $window >/dev/null 2>>"$dir/uds.log" || die "uds_bench: $(tail -1 "$dir/uds.log")"
    drain "$dir" pybgd
    local retained retained_anon
    retained=$(rss_kib "$pid")
    retained_anon=$(anon_kib "$pid")
    # Bursts of 100,000 more, each replacing the tasks kept: the memory must not grow from one to the next.
    local burst after_bursts=()
    for burst in $(seq 1 "$bursts"); do
        "$uds" pipelined "$dir/pybgd.sock" 100000 'SUBMIT noop' $window >/dev/null 2>>"$dir/uds.log" || die "uds_bench: $(tail -1 "$dir/uds.log")"
        drain "$dir" pybgd
        after_bursts+=("$(anon_kib "$pid")")
    done
    # The largest reply there is: all 100,000 rows (about 25 MB of JSON).
    "$uds" sequential "$dir/pybgd.sock" 1 "FUTURES all" >/dev/null 2>>"$dir/uds.log" || die "uds_bench: $(tail -1 "$dir/uds.log")"
    local futures_peak
    futures_peak=$(peak_rss_kib "$pid")
    pybgd_stop "$dir" "$pid"
    local IFS=,
    echo "{\"idle_rss_kib\": $idle_rss, \"idle_anon_kib\": $idle_anon, \"fresh_rss_kib\": $before, \"rss_100k_finished_kib\": $retained,"\
         "\"anon_100k_finished_kib\": $retained_anon, \"anon_after_bursts_kib\": [${after_bursts[*]}], \"peak_rss_futures_all_kib\": $futures_peak}"
    rm -rf "$dir"
}

# bench_client RUNS: whole-process time of every common pybgctl command (fully static release
# build) against task-spooler's own (`tsp true`, `tsp -l`, `tsp -w` of an ended job), both against
# their already running daemons, with hyperfine, in one run, and the instructions each executes.
# Prints one JSON line: each command's median and mean ms, instructions, and its tsp counterpart.
bench_client() {
    local runs=$1 dir
    dir=$(mktemp -d /tmp/pybgctl-bench.XXXXXX)
    uds="$dir/uds_bench"
    gcc -O2 -o "$uds" "$ROOT/scripts/benchmarks/uds_bench.c"
    local pid
    pid=$(pybgd_start "$dir" "")
    export TS_SOCKET="$dir/tsp.sock" TS_MAXFINISHED=1000 PYBGD_SOCKET="$dir/pybgd.sock"
    local static="$ROOT/.build-static/release/pybgctl" job id
    job=$(tsp true)   # starts tsp's server, as pybgd is already running
    tsp -w "$job" >/dev/null 2>&1 || true
    id=$("$static" submit noop)
    "$static" wait "$id" >/dev/null
    # Each pybgctl command beside the tsp command that does the same, tab-separated. The plain ones
    # are taken without ArgumentParser (PlainCommand); `submit noop --` is the same request through
    # ArgumentParser, the path of every other command line.
    local pairs
    pairs=$(printf '%s\t%s\n' \
        "submit noop" "tsp true" \
        "submit noop --json" "tsp true" \
        "submit noop --socket $PYBGD_SOCKET" "tsp true" \
        "submit noop --" "tsp true" \
        "status" "tsp -l" \
        "list" "tsp -l" \
        "wait $id" "tsp -w $job")
    local -a commands=("tsp true" "tsp -l" "tsp -w $job")
    local ours theirs
    while IFS=$'\t' read -r ours theirs; do commands+=("$static $ours"); done <<<"$pairs"
    hyperfine -N --warmup 20 --runs "$runs" --export-json "$dir/hyperfine.json" "${commands[@]}" >/dev/null 2>&1
    # Instructions executed (callgrind), which machine noise does not change: one run of each,
    # counting the process started (tsp's client forks; its child is not counted).
    local command
    for command in "${commands[@]}"; do
        # shellcheck disable=SC2086 # the command's words
        printf '%s\t%s\n' "$command" "$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            $command 2>&1 >/dev/null | awk -F'==' 'NR == 1 { first = $2 }
                $2 == first && /Collected :/ { print $NF; exit }' | tr -dc 0-9)"
    done >"$dir/instructions.tsv"
    printf '%s\n' "$pairs" >"$dir/pairs.tsv"
    tsp -K >/dev/null 2>&1 || true
    pybgd_stop "$dir" "$pid"
    python3 -c '
import json, sys
results = json.load(open(sys.argv[1]))["results"]
socket, job, task = sys.argv[4], sys.argv[5], sys.argv[6]
def key(command):
    command = command.split("/release/")[-1].replace(socket, "PATH")
    return command.replace(f"wait {task}", "wait ID").replace(f"tsp -w {job}", "tsp -w ID")
client = {key(r["command"]): {"median_ms": r["median"] * 1000, "mean_ms": r["mean"] * 1000} for r in results}
for line in open(sys.argv[2]):
    command, count = line.rstrip("\n").split("\t")
    command = key(command)
    if count and command in client:
        client[command]["instructions"] = int(count)
for line in open(sys.argv[3]):
    ours, theirs = line.rstrip("\n").split("\t")
    client[key("pybgctl " + ours)]["versus"] = key(theirs)
print(json.dumps({"client": client}))
' "$dir/hyperfine.json" "$dir/instructions.tsv" "$dir/pairs.tsv" "$PYBGD_SOCKET" "$job" "$id"
    rm -rf "$dir"
}

# bench_completion ROUNDS COUNT: submit-to-completion of COUNT no-op jobs, in memory, from the first
# submission until the last has ended. pybgd: COUNT `SUBMIT noop` pipelined (window 1000) into a
# daemon with 2 workers, until WAIT of the latest returns. beanstalkd 1.12 (no binlog): two C
# workers (`reserve`, `delete`, COUNT/2 each) waiting, then COUNT `put` pipelined, until both
# workers have deleted their share. Rounds interleaved; prints one JSON line of each round's seconds.
bench_completion() {
    local rounds=$1 count=$2 dir round
    dir=$(mktemp -d /tmp/pybgd-completion.XXXXXX)
    uds="$dir/uds_bench"
    gcc -O2 -o "$uds" "$ROOT/scripts/benchmarks/uds_bench.c"
    local config
    config=$(printf 'scheduler: {max_workers: 2, keep_finished: 1000, max_pending: 1000000}')
    local pybgd_seconds=() beanstalk_seconds=() finished=()
    for round in $(seq 1 "$rounds"); do
        local pid start end
        pid=$(pybgd_start "$dir" "$config")
        start=$(date +%s.%N)
        "$uds" pipelined "$dir/pybgd.sock" "$count" "SUBMIT noop" 1000 >/dev/null 2>&1
        drain "$dir" pybgd
        end=$(date +%s.%N)
        pybgd_seconds+=("$(awk "BEGIN { print $end - $start }")")
        finished+=("$("$uds" sequential "$dir/pybgd.sock" 1 STATUS 2>&1 >/dev/null | sed -n 's/.*"finished":\([0-9]*\).*/\1/p')")
        pybgd_stop "$dir" "$pid"
        rm -f "$dir/beanstalkd.sock"
        beanstalkd -l "unix:$dir/beanstalkd.sock" &
        local beanstalk=$!
        until [ -S "$dir/beanstalkd.sock" ]; do sleep 0.01; done
        "$uds" bsworker "$dir/beanstalkd.sock" $((count / 2)) >/dev/null &
        local first=$!
        "$uds" bsworker "$dir/beanstalkd.sock" $((count - count / 2)) >/dev/null &
        local second=$!
        sleep 0.2   # both workers connected and waiting in `reserve`
        start=$(date +%s.%N)
        "$uds" pipelined "$dir/beanstalkd.sock" "$count" 'put 0 0 60 1\r\nx\r\n' 1000 >/dev/null 2>&1
        wait "$first" "$second"
        end=$(date +%s.%N)
        beanstalk_seconds+=("$(awk "BEGIN { print $end - $start }")")
        kill "$beanstalk"; wait "$beanstalk" 2>/dev/null || true
    done
    rm -rf "$dir"
    local IFS=,
    echo "{\"completion\": {\"count\": $count, \"pybgd_seconds\": [${pybgd_seconds[*]}], \"beanstalkd_seconds\": [${beanstalk_seconds[*]}], \"pybgd_finished\": [${finished[*]}]}}"
}

# bench_commands COUNT: command tasks end to end. COUNT `true` command tasks pipelined into pybgd
# (2 workers, in memory), from the first SUBMIT until the last has ended; beside the floor of
# starting the same processes, `xargs -P 2` running `true` COUNT times. Each task costs two
# process starts in pybgd (pybgd-exec, then the command). Prints one JSON line.
bench_commands() {
    local count=$1 dir pid start end floor
    dir=$(mktemp -d /tmp/pybgd-commands.XXXXXX)
    uds="$dir/uds_bench"
    gcc -O2 -o "$uds" "$ROOT/scripts/benchmarks/uds_bench.c"
    pid=$(pybgd_start "$dir" "$(printf 'scheduler: {max_workers: 2, keep_finished: null, max_pending: 1000000}\ntasks:\n  - {name: t, argv: [true]}')")
    start=$(date +%s.%N)
    "$uds" pipelined "$dir/pybgd.sock" "$count" "SUBMIT t" 1000 >/dev/null 2>&1
    drain "$dir" pybgd
    end=$(date +%s.%N)
    local finished
    finished=$("$uds" sequential "$dir/pybgd.sock" 1 STATUS 2>&1 >/dev/null | sed -n 's/.*"finished":\([0-9]*\).*/\1/p')
    pybgd_stop "$dir" "$pid"
    local floor_start floor_end
    floor_start=$(date +%s.%N)
    seq "$count" | xargs -P 2 -n 1 true
    floor_end=$(date +%s.%N)
    floor=$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$floor_start" "$floor_end")
    python3 -c '
import json, sys
start, end, count, finished, floor = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4] or 0), float(sys.argv[5])
print(json.dumps({"commands": {"count": count, "finished": finished, "seconds": end - start, "floor_seconds": floor}}))
' "$start" "$end" "$count" "$finished" "$floor"
    rm -rf "$dir"
}
