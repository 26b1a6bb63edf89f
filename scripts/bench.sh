#!/usr/bin/env bash
# Intake benchmark: builds the bot, the bench and the teloxide peer (bench/peers/teloxide,
# a standalone project, into target/teloxide-peer) in release mode, installs the aiogram 3
# reference bot into a virtual environment (target/bench-venv), then runs the same
# scenario against the three bots on loopback fakes and the Redis at REDIS_URL, then runs
# this repository's bot alone through agents' replies (the Omnidesk webhook) and fairness
# beside a flooding chat with the default pacing, and prints the figures, the ratios and
# the verdicts against the targets (see BENCHMARKS.md).
#
#   scripts/bench.sh            full run (20 s windows; a few minutes)
#   scripts/bench.sh --quick    short run (3 s windows, 8 s for fairness; about 2½ minutes once built)
#
# Other arguments go to intake-bench (see `target/release/intake-bench --help`).
# Results are also written to target/bench/last.json.
set -euo pipefail
cd "$(dirname "$0")/.."

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
hostport="${REDIS_URL#redis://}"; hostport="${hostport##*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=6379
if ! (exec 3<>"/dev/tcp/$host/$port" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ "$reply" == +PONG* ]]) 2>/dev/null; then
    echo "bench.sh: no Redis answers at $REDIS_URL (scripts/test.sh can start one)" >&2
    exit 1
fi

cargo build --release --locked -p waviot-support-bot -p intake-bench
cargo build --release --locked --manifest-path bench/peers/teloxide/Cargo.toml \
    --target-dir target/teloxide-peer

venv=target/bench-venv
req=bench/peers/aiogram/requirements.txt
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! cmp -s "$req" "$venv/.requirements.txt"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$venv/.requirements.txt"
fi

mkdir -p target/bench
exec target/release/intake-bench \
    --bot target/release/waviot-support-bot \
    --teloxide-peer target/teloxide-peer/release/teloxide-peer \
    --python "$venv/bin/python" \
    --json target/bench/last.json \
    "$@"
