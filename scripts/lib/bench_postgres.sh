# shellcheck shell=bash
# scripts/bench --postgres: pybgd on a shared PostgreSQL store beside the PostgreSQL queues on PyPI
# (pgqueuer 1.6.0, procrastinate 3.10.0, oban 0.7.0), on one throwaway cluster (fsync on), each
# through its own documented API, driven by the anchors of ../shared/anchors/pg; pybgd by
# scripts/bench_postgres.py with the same counts and definitions. Rounds are interleaved.

# bench_postgres ROUNDS QUICK OUT: JSON lines into OUT.
bench_postgres() {
    local rounds=$1 quick=$2 out=$3
    local anchors="$ROOT/../shared/anchors/pg"
    local nb=20000 ns=2000 nd=20000 nl=200
    [ "$quick" = 1 ] && { nb=2000; ns=400; nd=2000; nl=50; }
    ensure_debs postgresql
    local url have_anchors=1
    if [ ! -f "$anchors/pg_up.sh" ]; then
        have_anchors=0
        say "../shared/anchors/pg is absent: pybgd is measured alone, without the PostgreSQL queues beside it"
        url=$(postgres_cluster_up)
    else
        url=$(bash "$anchors/pg_up.sh" 2>>"$out.log" | tail -1)
        [ -n "$url" ] || die "the anchors' pg_up.sh did not start a cluster; see $out.log"
        # The anchors' venv (Python 3.12 for oban 0.7.0) and their logs, outside ../shared (read-only in CI).
        [ -x /tmp/pgvenv/bin/python ] || bash "$anchors/setup_venv.sh" >>"$out.log" 2>&1 || die "the anchors' venv could not be made; see $out.log"
        export PGA_URL="$url" PGA_RESULTS="$ROOT/.build/bench/pg-anchors"
        mkdir -p "$PGA_RESULTS/logs"
    fi
    local py=/tmp/pgvenv/bin/python pybgd="$ROOT/.build/release/pybgd"
    : >"$out"
    local round lib conc
    for round in $(seq "$rounds"); do
        say "postgresql round $round of $rounds: pybgd, then pgqueuer, procrastinate and oban"
        if [ $have_anchors = 1 ]; then (cd "$anchors" && $py bench_floor.py insert1 asyncpg) >>"$out" 2>>"$out.log"; fi
        python3 scripts/bench_postgres.py "$pybgd" "$url" enq_batch --n $nb >>"$out" 2>>"$out.log"
        python3 scripts/bench_postgres.py "$pybgd" "$url" enq_single --n $ns --clients 16 >>"$out" 2>>"$out.log"
        python3 scripts/bench_postgres.py "$pybgd" "$url" drain --n $nd --hosts 1 >>"$out" 2>>"$out.log"
        python3 scripts/bench_postgres.py "$pybgd" "$url" drain --n $nd --hosts 2 >>"$out" 2>>"$out.log"
        python3 scripts/bench_postgres.py "$pybgd" "$url" latency --n $nl >>"$out" 2>>"$out.log"
        [ $have_anchors = 1 ] || continue
        for lib in pgqueuer procrastinate oban; do
            # Each library's best drain setting in the anchors' sweep on this kind of machine.
            case $lib in pgqueuer) conc=100 ;; procrastinate) conc=100 ;; oban) conc=200 ;; esac
            (
                cd "$anchors"
                $py bench_$lib.py enq_batch --n $nb --batch 1000
                $py bench_$lib.py enq_single --n $ns
                $py bench_$lib.py drain --n $nd --conc $conc
                $py bench_$lib.py latency --n $nl --gap 0.02 --conc $conc
            ) >>"$out" 2>>"$out.log"
        done
    done
    say "postgresql: time to rescue after SIGKILL, pybgd (default 15 s lease) and pgqueuer (its defaults)"
    for round in $(seq "$rounds"); do
        python3 scripts/bench_postgres.py "$pybgd" "$url" rescue >>"$out" 2>>"$out.log"
    done
    if [ $have_anchors = 1 ]; then
        (cd "$anchors" && $py bench_pgqueuer.py recovery --variant default --wait-max 90 --conc 100) >>"$out" 2>>"$out.log"
    fi
}

# A throwaway cluster when the anchors are absent: initdb as postgres in .build/bench/pg, Unix socket only.
postgres_cluster_up() {
    local directory="$ROOT/.build/bench/pg" bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    if [ ! -s "$directory/data/PG_VERSION" ]; then
        rm -rf "$directory" && mkdir -p "$directory" && chown postgres:postgres "$directory"
        runuser -u postgres -- "$bin/initdb" -D "$directory/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! runuser -u postgres -- "$bin/pg_ctl" -D "$directory/data" status >/dev/null 2>&1; then
        runuser -u postgres -- "$bin/pg_ctl" -D "$directory/data" -l "$directory/log" -w \
            -o "-k $directory -p 5434 -c listen_addresses=''" start >/dev/null
    fi
    echo "postgres://postgres@/postgres?host=$directory&port=5434"
}
