#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: makes sure a Redis server answers on
# REDIS_URL (default redis://127.0.0.1:6379), starting or installing one if needed,
# then runs formatting, lint and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
hostport="${REDIS_URL#redis://}"; hostport="${hostport##*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=6379

redis_up() { (exec 3<>"/dev/tcp/$host/$port" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ "$reply" == +PONG* ]]) 2>/dev/null; }

# The Redis-outage test starts its own redis-server, so the binary is needed either way.
if ! command -v redis-server >/dev/null 2>&1; then
    echo "test.sh: installing redis-server" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq redis-server >/dev/null; fi
fi

if ! redis_up; then
    echo "test.sh: starting redis-server on $host:$port" >&2
    redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no
    for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
    redis_up || { echo "test.sh: Redis did not start" >&2; exit 1; }
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
