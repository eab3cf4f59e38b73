# bench_core_baseline BEFORE AFTER ROUNDS: the scheduler core benchmark of two builds side by side.
# Times swing on these machines, so it gives both: ROUNDS interleaved timed runs of each (one JSON
# line per run), then the instructions each executes for the same work under callgrind (one line
# each; deterministic, and what a change should be judged by when the times disagree).
bench_core_baseline() {
    local before=$1 after=$2 rounds=$3 round side bin
    for round in $(seq 1 "$rounds"); do
        for side in before after; do
            bin=$before; [ "$side" = after ] && bin=$after
            "$bin" --json --tasks 100000 --runs 5 --latency-samples 200 2>/dev/null |
                python3 -c 'import json, sys; d = json.load(sys.stdin); print(json.dumps({"side": sys.argv[1], "round": int(sys.argv[2]),
                    "tasks_per_second": d["throughput"]["pybackground"]["tasksPerSecond"],
                    "tasks_per_second_10k": d["throughputAt10k"]["pybackground"]["tasksPerSecond"],
                    "pool_tasks_per_second": d["throughput"]["minimal-pool"]["tasksPerSecond"]}))' "$side" "$round"
        done
    done
    command -v valgrind >/dev/null || ensure_debs valgrind
    local work
    work=$(mktemp -d /tmp/pybgd-callgrind.XXXXXX)
    for side in before after; do
        bin=$before; [ "$side" = after ] && bin=$after
        # Valgrind cannot read Swift's DWARF; the symbol table is enough to count instructions.
        objcopy --strip-debug "$bin" "$work/$side"
        valgrind --tool=callgrind --callgrind-out-file="$work/$side.out" "$work/$side" --tasks 20000 --runs 1 --latency-samples 10 \
            >/dev/null 2>"$work/$side.err" || true
        awk -v side="$side" '/I *refs:/ {gsub(",", "", $NF); print "{\"side\": \"" side "\", \"instructions\": " $NF "}"}' "$work/$side.err"
    done
    rm -rf "$work"
}
