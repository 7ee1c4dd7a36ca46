# One PostgreSQL server for a whole test run (or benchmark run); for sourcing from bash:
#
#   source scripts/postgres-test-server.sh
#
# It installs Debian's postgresql when it is missing (as root), makes a cluster in a temporary
# directory, starts it on a free port of 127.0.0.1 with trust authentication and exports
# KCRASH_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres, where kcrash-testsupport's
# shared_database() gives each test a database of its own instead of a server of its own.
# kcrash_postgres_stop stops the server and removes the directory; it is set as the EXIT trap
# (a script with an EXIT trap of its own calls it from there). Without PostgreSQL (and not
# root) the variable stays unset, and the tests say what they did not check.

kcrash_pg_say() { echo "postgres-test-server: $*" >&2; }

# The directory of initdb, pg_ctl and postgres: pg_config's, else Debian's newest (they are
# not on PATH there).
kcrash_pg_bindir() {
    local dir
    for dir in "$(pg_config --bindir 2>/dev/null)" $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# kcrash_pg SECONDS PROGRAM ARGS...: a PostgreSQL program with a timeout, as the postgres user
# when root (PostgreSQL refuses to run as root), in the server's directory (that user may not
# be able to read the current one).
kcrash_pg() {
    local seconds=$1 program=$2
    shift 2
    (cd "$kcrash_pg_dir" && timeout -k 5 "$seconds" "${kcrash_pg_as[@]}" "$kcrash_pg_bin/$program" "$@")
}

kcrash_postgres_stop() {
    [ -n "${kcrash_pg_dir:-}" ] || return 0
    if [ -n "${kcrash_pg_watchdog:-}" ]; then
        kill "$kcrash_pg_watchdog" 2>/dev/null || true
        kcrash_pg_watchdog=
    fi
    # Immediate: the data is thrown away anyway.
    if [ -e "$kcrash_pg_dir/data/postmaster.pid" ]; then
        kcrash_pg 60 pg_ctl stop -D "$kcrash_pg_dir/data" -m immediate -w -t 30 >/dev/null 2>&1 || true
    fi
    rm -rf "$kcrash_pg_dir"
    kcrash_pg_dir=
    unset KCRASH_TEST_POSTGRES
}

kcrash_postgres_start() {
    kcrash_pg_bin=$(kcrash_pg_bindir) || kcrash_pg_bin=
    if [ -z "$kcrash_pg_bin" ] && [ "$(id -u)" = 0 ]; then
        kcrash_pg_say "installing postgresql"
        # No default cluster: Debian would start a server of its own on port 5432.
        mkdir -p /etc/postgresql-common/createcluster.d
        echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/kcrash-tests.conf
        apt-get -o DPkg::Lock::Timeout=600 -q update >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q -y --no-install-recommends \
            install postgresql >&2
        kcrash_pg_bin=$(kcrash_pg_bindir) || kcrash_pg_bin=
    fi
    if [ -z "$kcrash_pg_bin" ]; then
        kcrash_pg_say "PostgreSQL not found (apt-get install postgresql): KCRASH_TEST_POSTGRES not set"
        return 0
    fi
    kcrash_pg_as=()
    if [ "$(id -u)" = 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            kcrash_pg_say "no postgres user to run PostgreSQL as: KCRASH_TEST_POSTGRES not set"
            return 0
        fi
        kcrash_pg_as=(runuser -u postgres --)
    fi

    kcrash_pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/kcrash-postgres-run.XXXXXX")
    trap kcrash_postgres_stop EXIT
    # So that the EXIT trap runs on these too.
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$kcrash_pg_dir"
    fi
    # Stops the server also when this shell ends without running its traps (SIGKILL); in a
    # session of its own, so that a signal to this shell's process group leaves it running.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
        cd "$2" || exit
        [ ! -e "$2/data/postmaster.pid" ] || timeout -k 5 60 "${@:4}" "$3/pg_ctl" stop -D "$2/data" -m immediate -w -t 30
        rm -rf "$2"' kcrash-postgres-watchdog "$$" "$kcrash_pg_dir" "$kcrash_pg_bin" "${kcrash_pg_as[@]}" \
        </dev/null >/dev/null 2>&1 &
    kcrash_pg_watchdog=$!

    if ! kcrash_pg 120 initdb -A trust -U postgres --no-sync -E UTF8 --locale=C -D "$kcrash_pg_dir/data" \
        >"$kcrash_pg_dir/initdb.log" 2>&1; then
        cat "$kcrash_pg_dir/initdb.log" >&2
        kcrash_pg_say "initdb failed"
        return 1
    fi
    local log=$kcrash_pg_dir/postgres.log port try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        # A random port: when it is taken postgres cannot bind it and pg_ctl fails at once.
        port=$((20000 + RANDOM % 30000))
        rm -f "$log"
        if kcrash_pg 60 pg_ctl start -w -t 30 -D "$kcrash_pg_dir/data" -l "$log" -o "-p $port -k '$kcrash_pg_dir' \
            -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" >/dev/null; then
            export KCRASH_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres
            kcrash_pg_say "started: KCRASH_TEST_POSTGRES=$KCRASH_TEST_POSTGRES"
            return 0
        fi
        grep -q 'could not create any TCP/IP sockets' "$log" || break
        kcrash_pg_say "port $port is taken (try $try)"
    done
    tail -n 20 "$log" >&2
    kcrash_pg_say "the server did not start"
    return 1
}

kcrash_postgres_start
