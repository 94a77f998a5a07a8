#!/usr/bin/env bash
# make demo: the whole of wabus on this machine, no phone needed. It builds
# the binaries, starts the pinned nats-server on a free port with a
# temporary store, uses the local Postgres (database wabus_demo, created if
# missing), runs one worker and admin with the simulator (WA_DRIVER=sim) and
# a generated admin token, then cmd/wabus-demo pairs a tenant, sends jobs,
# lets a contact write and prints the events. Everything it started is
# stopped on exit.
#
# Environment: WABUS_DEMO_PG (Postgres admin URL, default the local
# server), NATS_SERVER (the nats-server binary, default GOPATH/bin's),
# WABUS_DEMO_KEEP=1 to keep the processes running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_admin=${WABUS_DEMO_PG:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
db=wabus_demo
nats_server=${NATS_SERVER:-$(go env GOPATH)/bin/nats-server}

work=$(mktemp -d -t wabus-demo.XXXXXX)
pids=()
ok=0

log() { printf '\n## %s\n' "$*"; }

# stop ends the processes in reverse order of start (admin, worker, then
# nats-server, so the worker can drain), SIGTERM first, SIGKILL after 15s.
stop() {
	local i pid
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

cleanup() {
	trap - EXIT INT TERM
	if [ "$ok" != 1 ]; then
		for f in worker admin nats; do
			[ -s "$work/$f.log" ] && { echo "--- last lines of $f.log"; tail -n 20 "$work/$f.log"; }
		done
	fi
	log "stopping"
	stop
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

[ -x "$nats_server" ] || { echo "no nats-server at $nats_server: run 'make tools'" >&2; exit 1; }
command -v psql >/dev/null || { echo "psql is needed to create the demo database" >&2; exit 1; }

log "building worker, admin and wabus-demo"
go build -o "$work/bin/" ./cmd/worker ./cmd/admin ./cmd/wabus-demo
read -r nats_port admin_port metrics_port < <("$work/bin/wabus-demo" ports 3)

log "starting nats-server $("$nats_server" --version | awk '{print $NF}') on 127.0.0.1:$nats_port (store $work/nats)"
"$nats_server" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" -l "$work/nats.log" &
pids+=($!)

log "postgres: database $db"
if ! psql "$pg_admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
	psql "$pg_admin" -qc "CREATE DATABASE $db"
	echo "created $db"
else
	echo "$db exists; tenants paired by an earlier demo are restored from it"
fi

token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
# the admin URL with its database replaced by the demo's (query kept)
query=sslmode=disable
[[ $pg_admin == *\?* ]] && query=${pg_admin#*\?}
base=${pg_admin%%\?*}
export WA_DATABASE_URL="${base%/*}/$db?$query"
export WA_NATS_URL="nats://127.0.0.1:$nats_port"
export WA_DRIVER=sim WA_LOG_FORMAT=text WA_LOG_LEVEL=info WA_SUBJECT_PREFIX=wa

log "starting worker (sim, metrics 127.0.0.1:$metrics_port) and admin (127.0.0.1:$admin_port)"
WA_WORKER_ID=demo-worker-1 WA_METRICS_ADDR="127.0.0.1:$metrics_port" "$work/bin/worker" 2>"$work/worker.log" &
pids+=($!)
WA_ADMIN_TOKEN=$token WA_ADMIN_ADDR="127.0.0.1:$admin_port" "$work/bin/admin" 2>"$work/admin.log" &
pids+=($!)
echo "admin token: $token"

"$work/bin/wabus-demo" run -admin "http://127.0.0.1:$admin_port" -worker "http://127.0.0.1:$metrics_port" \
	-token "$token" -nats "$WA_NATS_URL" -tenant demo
ok=1

if [ "${WABUS_DEMO_KEEP:-}" = 1 ]; then
	log "running until Ctrl-C: admin http://127.0.0.1:$admin_port (token $token), NATS $WA_NATS_URL"
	wait "${pids[@]}" || true
fi
