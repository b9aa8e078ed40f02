#!/bin/sh
# Replaces Redis's data with the RDB snapshot read from stdin.
#
# Run by ./scripts/restore.sh as root in a throw-away container of the redis
# service, with the service's /data mounted and redis itself stopped.
#
# With AOF on, Redis ignores dump.rdb at start-up and loads only its AOF, so
# copying a snapshot in is not enough. Instead: load the snapshot with AOF
# off, switch AOF on (Redis rewrites it from memory), shut down cleanly.
# The old data is moved aside first and put back if anything fails.
set -eu

# The service's own password is not set on the temporary server.
unset REDISCLI_AUTH
data=/data
aside="$data/.before-restore"
socket=/tmp/restore-redis.sock

restore_old_data() {
    redis-cli -s "$socket" shutdown nosave >/dev/null 2>&1 || true
    find "$data" -mindepth 1 -maxdepth 1 ! -name .before-restore -exec rm -rf {} +
    if [ -d "$aside" ]; then
        find "$aside" -mindepth 1 -maxdepth 1 -exec mv {} "$data"/ \;
        rmdir "$aside"
    fi
    echo "restore-rdb.sh: failed; the previous Redis data was put back" >&2
}

wait_for() { # description, command...
    what="$1"
    shift
    tries=0
    until "$@"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 300 ]; then
            echo "restore-rdb.sh: timed out waiting for $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

info_field() {
    redis-cli -s "$socket" info persistence | tr -d '\r' | sed -n "s/^$1://p"
}

# Fails at once, with Redis's own reason, when the server has exited:
# redis-check-rdb accepts some snapshots the server still refuses (e.g. one
# from a Redis with more databases).
loaded() {
    if ! kill -0 "$server" 2>/dev/null; then
        echo "restore-rdb.sh: Redis refused the snapshot:" >&2
        grep -E '#|Fatal|error|Error' /tmp/restore-redis.log | tail -n 5 >&2 || true
        exit 1
    fi
    [ "$(redis-cli -s "$socket" ping 2>/dev/null)" = PONG ]
}
rewritten() {
    [ "$(info_field aof_enabled)" = 1 ] &&
        [ "$(info_field aof_rewrite_in_progress)" = 0 ] &&
        [ "$(info_field aof_rewrite_scheduled)" = 0 ]
}

main() {
    rm -rf "$aside"
    mkdir "$aside"
    find "$data" -mindepth 1 -maxdepth 1 ! -name .before-restore -exec mv {} "$aside"/ \;
    trap 'restore_old_data' EXIT
    cat >"$data/dump.rdb"
    redis-check-rdb "$data/dump.rdb" >/dev/null
    redis-server --port 0 --unixsocket "$socket" --dir "$data" --appendonly no \
        --save '' --logfile /tmp/restore-redis.log &
    server=$!
    wait_for "Redis to load the snapshot" loaded
    redis-cli -s "$socket" config set appendonly yes >/dev/null
    wait_for "the AOF rewrite" rewritten
    redis-cli -s "$socket" shutdown >/dev/null 2>&1 || true
    wait_for "Redis to stop" sh -c "! [ -S '$socket' ]"
    rm -f "$data/dump.rdb"
    [ -f "$data/appendonlydir/appendonly.aof.manifest" ] || {
        echo "restore-rdb.sh: Redis wrote no AOF manifest" >&2
        exit 1
    }
    trap - EXIT
    rm -rf "$aside"
    # The server ran as root here; the service runs as the redis user.
    chown -R redis "$data"
}

main
