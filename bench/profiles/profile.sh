#!/usr/bin/env bash
# Profile a crosswind server under wrk load; writes bench/profiles/NAME.txt.
#
#   bench/profiles/profile.sh NAME [BACKEND] [SECONDS] [WRK ARGS...] [/PATH?QUERY]
#   bench/profiles/profile.sh crosswind-asyncio-hello asyncio 5
#   bench/profiles/profile.sh crosswind-asyncio-form asyncio 5 -s bench/wrk/form.lua
#   bench/profiles/profile.sh crosswind-asyncio-params asyncio 5 "/users/42?fields=a,b"
#
# The server runs under cProfile pinned to CPU 0, wrk (1 thread, 32 connections)
# to CPU 1; profiling starts when the port is ready. The report lists the top 30
# functions by own time, then the wrk output. cProfile slows Python code a few
# times over, so read the report for shares, not for absolute figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
NAME=${1:?usage: profile.sh NAME [BACKEND] [SECONDS] [WRK ARGS...]}
BACKEND=${2:-asyncio}
SECONDS_=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PIN_SERVER=() PIN_WRK=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0) PIN_WRK=(taskset -c 1)
fi
OUT=bench/profiles/$NAME.txt
"${PIN_SERVER[@]}" .venv/bin/python bench/servers/crosswind_server.py --backend "$BACKEND" \
    --port "$PORT" --profile "$OUT" --top 30 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
WRK=("${PIN_WRK[@]}" wrk -t1 -c32 "-d${SECONDS_}s" --latency "$@" "http://127.0.0.1:$PORT/")
# A target path, if any, is the last wrk argument; default is /.
if [ $# -gt 0 ] && [[ ${!#} == /* ]]; then
    WRK=("${PIN_WRK[@]}" wrk -t1 -c32 "-d${SECONDS_}s" --latency "${@:1:$#-1}" "http://127.0.0.1:$PORT${!#}")
fi
RESULT=$("${WRK[@]}")
kill -TERM $SERVER
wait $SERVER
trap - EXIT
{
    echo
    echo "# load: ${WRK[*]}"
    echo "$RESULT" | sed 's/^/#   /'
} >> "$OUT"
echo "wrote $OUT"
