#!/usr/bin/env bash
# restart-latency.sh - crash->restart latency of a supervised program, and
# the footprint of a supervisor watching 1,000 programs: orch-slave side by
# side with a bare fork/exec floor, supervisord, runit, daemontools and s6,
# all in the same run. See bench/README.md for the method and the results.
#
#   bench/restart-latency.sh [BUILD_DIR]        (default: ./build)
#
# Environment: KILLS (50), GAP_MS (1100), IDLE_N (1000), IDLE_SECS (10),
# HEALTH_MS (100: orch-health's tcp check interval),
# PEERS (all: "floor supervisord runsv supervise s6 s6-tuned orch orch-health"),
# IDLE_PEERS ("orch supervisord runsvdir"), CSV (file for raw latencies).
# Needs: scripts/deps bench. Everything runs under a temp dir on 127.0.0.1
# and only the processes this script starts are stopped.
set -euo pipefail

BUILD=$(cd "${1:-build}" && pwd)
KILLS=${KILLS:-50}
GAP_MS=${GAP_MS:-1100}
IDLE_N=${IDLE_N:-1000}
IDLE_SECS=${IDLE_SECS:-10}
HEALTH_MS=${HEALTH_MS:-100}
PEERS=${PEERS-"floor supervisord runsv supervise s6 s6-tuned orch orch-health"}
IDLE_PEERS=${IDLE_PEERS-"orch supervisord runsvdir"}

STAMP=$BUILD/examples/apps/stamp
FLOOR=$BUILD/bench/floor
RL=$BUILD/bench/restart_latency
SLAVE=$BUILD/slave/orch-slave
for f in "$STAMP" "$FLOOR" "$RL"; do
	[ -x "$f" ] || { echo "restart-latency: $f missing: build first" >&2; exit 2; }
done
have() { command -v "$1" >/dev/null 2>&1; }

WORK=$(mktemp -d /tmp/orch-bench.XXXXXX)
ROOTS=()        # supervisors started by this script (pids)

stop_roots() {
	# SIGSTOP then SIGKILL each root and its descendants: only ours.
	# (stderr off: bash reports every job that dies of SIGKILL.)
	if [ ${#ROOTS[@]} -gt 0 ]; then
		"$RL" kill-tree "${ROOTS[@]}" || true
		for p in "${ROOTS[@]}"; do wait "$p" || true; done
	fi 2>/dev/null
	ROOTS=()
}
cleanup() {
	stop_roots
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port for orch-slave's API.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((40000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "restart-latency: no free port" >&2
	exit 1
}

# ---- one supervised stamp per peer (latency) ----

# daemontools-style service dir: ./run is the stamp binary itself (no
# shell in between, the most favourable setup); STAMP_OUT comes from the
# supervisor's environment, which it passes on to ./run.
svc_dir() {
	mkdir -p "$1"
	ln -s "$STAMP" "$1/run"
}

start_orch_slave() { # DIR -> sets SLAVE_PID, SLAVE_URL
	local d=$1 port try
	mkdir -p "$d/data"
	(umask 077 && echo "bench-token-$$" >"$d/token")
	for try in 1 2 3; do # a port taken meanwhile: another one
		port=$(free_port)
		"$SLAVE" --name bench --listen "127.0.0.1:$port" --data-dir "$d/data" \
			--token-file "$d/token" --no-cgroup --log-level warn \
			>"$d/slave.log" 2>&1 &
		SLAVE_PID=$!
		ROOTS+=("$SLAVE_PID")
		SLAVE_URL="http://127.0.0.1:$port"
		for _ in $(seq 200); do
			curl -sf "$SLAVE_URL/healthz" >/dev/null 2>&1 && return 0
			kill -0 "$SLAVE_PID" 2>/dev/null || break
			sleep 0.1
		done
		echo "restart-latency: orch-slave did not come up (try $try); log:" >&2
		cat "$d/slave.log" >&2
	done
	return 1
}

# POST one pet instance running stamp --out FILE (restart backoff 100ms).
orch_instance() { # ID FILE
	curl -sf -o /dev/null -H "Authorization: Bearer bench-token-$$" \
		-H 'Content-Type: application/json' -X POST "$SLAVE_URL/v1/instances" \
		-d "{\"id\":\"$1\",\"service\":\"stamp\",\"version\":\"1\",\"kind\":\"pet\",
		     \"command\":[\"$STAMP\",\"--out\",\"$2\"],
		     \"restart\":{\"limit\":1000,\"window_ms\":60000,\"backoff_ms\":100,
		                \"max_backoff_ms\":100}}"
}

# The same, listening on an allocated port with a tcp health check every
# HEALTH_MS: Run again only once the check passes on the new process.
orch_health_instance() { # ID FILE
	curl -sf -o /dev/null -H "Authorization: Bearer bench-token-$$" \
		-H 'Content-Type: application/json' -X POST "$SLAVE_URL/v1/instances" \
		-d "{\"id\":\"$1\",\"service\":\"stamp\",\"version\":\"1\",\"kind\":\"pet\",
		     \"command\":[\"$STAMP\",\"--out\",\"$2\",\"--port\",\"\${ORCH_PORT}\"],
		     \"ports\":[\"main\"],
		     \"health\":{\"type\":\"tcp\",\"interval_ms\":$HEALTH_MS,
		                \"timeout_ms\":$HEALTH_MS,\"healthy_threshold\":1},
		     \"restart\":{\"limit\":1000,\"window_ms\":60000,\"backoff_ms\":100,
		                \"max_backoff_ms\":100}}"
}

start_latency_peer() { # NAME -> sets PEER_ARG "NAME=STAMPFILE" for restart_latency
	local name=$1 d=$WORK/lat/$1
	mkdir -p "$d"
	case "$name" in
	floor)
		"$FLOOR" "$STAMP" --out "$d/stamp" &
		ROOTS+=($!) ;;
	supervisord)
		have supervisord || return 1
		cat >"$d/supervisord.conf" <<-EOF
		[supervisord]
		nodaemon=true
		logfile=$d/supervisord.log
		pidfile=$d/supervisord.pid
		childlogdir=$d
		loglevel=warn
		[program:stamp]
		command=$STAMP --out $d/stamp
		startsecs=0
		autorestart=true
		startretries=1000000
		stdout_logfile=NONE
		stderr_logfile=NONE
		EOF
		supervisord -c "$d/supervisord.conf" >/dev/null 2>&1 &
		ROOTS+=($!) ;;
	runsv)
		have runsv || return 1
		svc_dir "$d/svc"
		STAMP_OUT=$d/stamp runsv "$d/svc" >/dev/null 2>&1 &
		ROOTS+=($!) ;;
	supervise)
		have supervise || return 1
		svc_dir "$d/svc"
		STAMP_OUT=$d/stamp supervise "$d/svc" >/dev/null 2>&1 &
		ROOTS+=($!) ;;
	s6 | s6-tuned)
		have s6-supervise || return 1
		svc_dir "$d/svc"
		# s6-tuned: no death tally (a file write per death).
		[ "$name" = s6-tuned ] && echo 0 >"$d/svc/max-death-tally"
		STAMP_OUT=$d/stamp s6-supervise "$d/svc" >/dev/null 2>&1 &
		ROOTS+=($!) ;;
	orch)
		[ -x "$SLAVE" ] || return 1
		start_orch_slave "$d" || return 1
		orch_instance stamp-0 "$d/stamp" || {
			echo "restart-latency: POST /v1/instances failed" >&2
			return 1
		} ;;
	orch-health)
		[ -x "$SLAVE" ] || return 1
		start_orch_slave "$d" || return 1
		orch_health_instance stamp-0 "$d/stamp" || {
			echo "restart-latency: POST /v1/instances failed" >&2
			return 1
		}
		RUN_ARGS+=(--run "$name=${SLAVE_URL##*:}:stamp-0") ;;
	*)
		echo "restart-latency: unknown peer $name" >&2
		return 1 ;;
	esac
	PEER_ARG="$name=$d/stamp"
}

# ---- N supervised stamps under one supervisor (footprint) ----

start_idle_peer() { # NAME -> sets IDLE_ROOT
	local name=$1 d=$WORK/idle/$1 i
	mkdir -p "$d"
	case "$name" in
	supervisord)
		have supervisord || return 1
		{
			printf '[supervisord]\nnodaemon=true\nlogfile=%s\npidfile=%s\n' \
				"$d/supervisord.log" "$d/supervisord.pid"
			printf 'childlogdir=%s\nloglevel=warn\nminfds=%d\n' "$d" $((IDLE_N * 4 + 64))
			for i in $(seq -w 1 "$IDLE_N"); do
				printf '[program:s%s]\ncommand=%s --out %s\n' "$i" "$STAMP" "$d/stamps"
				printf 'startsecs=0\nautorestart=true\nstdout_logfile=NONE\nstderr_logfile=NONE\n'
			done
		} >"$d/supervisord.conf"
		supervisord -c "$d/supervisord.conf" >/dev/null 2>&1 &
		IDLE_ROOT=$! ;;
	runsvdir)
		have runsvdir || return 1
		for i in $(seq -w 1 "$IDLE_N"); do svc_dir "$d/sv/s$i"; done
		STAMP_OUT=$d/stamps runsvdir "$d/sv" >/dev/null 2>&1 &
		IDLE_ROOT=$! ;;
	orch)
		[ -x "$SLAVE" ] || return 1
		start_orch_slave "$d" || return 1
		IDLE_ROOT=$SLAVE_PID
		for i in $(seq -w 1 "$IDLE_N"); do
			orch_instance "s$i" "$d/stamps" || return 1
		done ;;
	*)
		echo "restart-latency: unknown idle peer $name" >&2
		return 1 ;;
	esac
	[ "$name" = orch ] || ROOTS+=("$IDLE_ROOT")
}

echo "# restart latency: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo "# peers: supervisor $(dpkg-query -W -f='${Version}' supervisor 2>/dev/null || echo -)," \
	"runit $(dpkg-query -W -f='${Version}' runit 2>/dev/null || echo -)," \
	"daemontools $(dpkg-query -W -f='${Version}' daemontools 2>/dev/null || echo -)," \
	"s6 $(dpkg-query -W -f='${Version}' s6 2>/dev/null || echo -)," \
	"orch-slave $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo -)"
echo

args=()
RUN_ARGS=(--token "bench-token-$$")
for p in $PEERS; do
	if start_latency_peer "$p"; then
		args+=("$PEER_ARG")
	else
		echo "# skipped $p (not installed or did not start)"
	fi
done
echo "## SIGKILL -> new process running ($KILLS kills per peer, >= ${GAP_MS} ms apart);"
echo "## kill -> Run: orch-health's tcp check every ${HEALTH_MS} ms passing on the new process"
echo
"$RL" latency --kills "$KILLS" --gap-ms "$GAP_MS" --prog stamp,run \
	${CSV:+--csv "$CSV"} "${RUN_ARGS[@]}" "${args[@]}"
stop_roots

[ -n "$IDLE_PEERS" ] || exit 0
echo
echo "## Supervisor footprint with $IDLE_N supervised stamps (idle, ${IDLE_SECS} s)"
echo
echo "| supervisor | its processes | supervised | all up after s | RSS MiB | PSS MiB | CPU ms in ${IDLE_SECS} s | CPU |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for p in $IDLE_PEERS; do
	t0=$("$RL" now)
	if start_idle_peer "$p"; then
		"$RL" idle --expect "$IDLE_N" --secs "$IDLE_SECS" --prog stamp,run \
			--since "$t0" "$p=$IDLE_ROOT" || echo "| $p | failed | | | | | | |"
	else
		echo "| $p | not run | | | | | | |"
	fi
	stop_roots
done
