#!/usr/bin/env bash
# bench/run.sh: modgate's load harness. See bench/README.md.
#
# Measures, in one run on this machine:
#   1. cached serving with wrk against nginx (the static ceiling) and a warm
#      modgate, both serving the same 139-module graph: .info+.mod,
#      .info+.mod+.zip, and @v/list;
#   2. 64 clients asking a cold modgate for one uncached 13 MiB zip;
#   3. a cold `go mod download all` of the graph through a cold modgate vs
#      straight from the upstream.
# and writes a markdown report to bench/results/<date>.md.
#
# Load traffic goes to 127.0.0.1 only. The network registry (`go env
# GOPROXY`) is used to download the graph once, for checksum database
# look-ups while modgate warms its cache, and for section 3. Every loop is
# bounded; every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${MODGATE_BENCH_DIR:-/var/tmp/modgate-bench} # graph cache, kept between runs
DURATION=${BENCH_DURATION:-15}                        # seconds per wrk run
ROUNDS=${BENCH_ROUNDS:-2}                             # wrk rounds (every mix, both servers)
COLD_ROUNDS=${BENCH_COLD_ROUNDS:-2}                   # cold `go mod download all` rounds
LARGE_ROUNDS=${BENCH_LARGE_ROUNDS:-2}                 # large-zip rounds
LARGE_SIZE=${BENCH_LARGE_SIZE:-13MiB}
LARGE_RATE=${BENCH_LARGE_RATE:-25}                    # MiB/s of the throttled upstream in section 2
# Extra `modgate serve` flags. The vulnerability database is off because
# its source is the upstream, which is a file:// graph in section 1.
MODGATE_FLAGS=${BENCH_MODGATE_FLAGS---vulndb-source=none}
SKIP=${BENCH_SKIP:-}                                  # comma list of: load,large,cold
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}         # where the report goes
CONNS=64
THREADS=2

for tool in go nginx wrk curl awk; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (apt-get install nginx wrk curl)" >&2; exit 2; }
done
case "$DURATION$ROUNDS$COLD_ROUNDS$LARGE_ROUNDS" in *[!0-9]*) echo "run.sh: BENCH_* counts must be integers" >&2; exit 2 ;; esac
((DURATION >= 1 && DURATION <= 120 && ROUNDS <= 5 && COLD_ROUNDS <= 5 && LARGE_ROUNDS <= 5)) ||
	{ echo "run.sh: BENCH_DURATION 1..120, rounds <= 5" >&2; exit 2; }

RUN=$(mktemp -d "${TMPDIR:-/tmp}/modgate-bench-run.XXXXXX")
BIN=$RUN/bin
LOGS=$RUN/logs
mkdir -p "$BIN" "$LOGS"
PIDS=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	# Module caches are read-only unless made with -modcacherw; be sure.
	chmod -R u+w "$RUN" 2>/dev/null || true
	if [[ -n ${KEEP_RUN:-} ]]; then
		log "kept $RUN"
	else
		rm -rf "$RUN"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop_pid ends one process this script started: TERM, then KILL after 10 s.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# wait_http URL: wait (at most 20 s) until URL answers 200.
wait_http() {
	local i
	for ((i = 0; i < 200; i++)); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	log "no answer from $1"
	return 1
}

# hwm_mb PID: the process's peak resident set (VmHWM) in MiB.
hwm_mb() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# metric_sum BASE NAME [LABEL-FILTER]: sum of a modgate counter's series.
metric_sum() {
	curl -fsS "$1/metrics" | awk -v name="$2" -v filter="${3:-}" '
		index($1, name) == 1 && substr($1, length(name) + 1, 1) ~ /^(\{|)$/ && index($1, filter) { s += $2 }
		END { printf "%d", s }'
}

# start_modgate NAME STORAGE UPSTREAM SUMDB [BINARY]: start `modgate serve`
# on a free port; sets MG_PID and MG_URL.
start_modgate() {
	local name=$1 storage=$2 up=$3 sumdb=$4 bin=${5:-$BIN/modgate} port
	port=$("$BIN/benchtool" freeport)
	mkdir -p "$storage"
	"$bin" serve --listen "127.0.0.1:$port" --storage-dir "$storage" \
		--upstream "$up" --sumdb "$sumdb" --list-ttl 1h --access-log=false --log-level warn $MODGATE_FLAGS \
		>"$LOGS/modgate-$name.log" 2>&1 &
	MG_PID=$!
	PIDS+=("$MG_PID")
	MG_URL=http://127.0.0.1:$port
	wait_http "$MG_URL/healthz" || { cat "$LOGS/modgate-$name.log" >&2; exit 1; }
}

# run_wrk NAME URL PATHS: one wrk run; prints "rps p50_ms p99_ms errors".
run_wrk() {
	local name=$1 url=$2 paths=$3 out=$LOGS/wrk-$1.txt
	timeout $((DURATION + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency \
		-s "$ROOT/bench/wrk/rotate.lua" "$url" -- "$paths" >"$out" 2>&1 || { cat "$out" >&2; exit 1; }
	awk '/^RESULT/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		errs = v["non2xx"] + v["connect"] + v["read"] + v["write"] + v["timeout"]
		printf "%.0f %.2f %.2f %d\n", v["requests"] / (v["duration_us"] / 1e6), v["p50_us"] / 1000, v["p99_us"] / 1000, errs
	}' "$out"
}

now_s() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
# verdict OK: a check mark or a cross for the report.
verdict() { if [[ $1 == 1 ]]; then echo "✓"; else echo "✗"; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? 1 : 0 }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
skip() { [[ ",$SKIP," == *",$1,"* ]]; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

# ---------------------------------------------------------------- build
if [[ -n ${BENCH_MODGATE_BIN:-} ]]; then
	# A prebuilt binary, e.g. to compare a proposed change against HEAD.
	log "using modgate $BENCH_MODGATE_BIN"
	cp "$BENCH_MODGATE_BIN" "$BIN/modgate"
else
	log "building modgate"
	(cd "$ROOT" && go build -o "$BIN/modgate" ./cmd/modgate)
fi
log "building benchtool"
(cd "$ROOT" && go build -o "$BIN/benchtool" ./bench/cmd/benchtool)

GOPROXY_REAL=$(go env GOPROXY)
GOSUMDB_REAL=$(go env GOSUMDB)

# ---------------------------------------------------------------- graph
# The graph (bench/graph/go.mod) is downloaded once into a bench module
# cache, then served by nginx and by modgate (as a file:// upstream).
MODCACHE=$BENCH_DIR/modcache
STAMP=$BENCH_DIR/graph.sum
mkdir -p "$BENCH_DIR"
if ! cmp -s "$STAMP" "$ROOT/bench/graph/go.sum"; then
	log "downloading the graph once into $MODCACHE"
	rm -rf "$MODCACHE" "$BENCH_DIR/download.json"
	cp -r "$ROOT/bench/graph" "$RUN/graph-dl"
	(cd "$RUN/graph-dl" && GOMODCACHE=$MODCACHE GOFLAGS=-modcacherw GOTOOLCHAIN=local \
		timeout 900 go mod download -json all >"$BENCH_DIR/download.json")
	cp "$ROOT/bench/graph/go.sum" "$STAMP"
fi
URLS=$RUN/urls
mkdir -p "$URLS"
NMODS=$("$BIN/benchtool" urls -json "$BENCH_DIR/download.json" -out "$URLS" | awk '{ print $1 }')
GRAPH_MIB=$(awk '/"Zip":/ { gsub(/[",]/, "", $2); print $2 }' "$BENCH_DIR/download.json" | xargs stat -c %s | awk '{ s += $1 } END { printf "%.0f", s / 1048576 }')
log "graph: $NMODS modules, $GRAPH_MIB MiB of zips"

REPORT=$RUN/report.md
: >"$REPORT"

# ---------------------------------------------------------------- 1. cached serving
if ! skip load; then
	log "section 1: cached serving, nginx vs modgate"
	NGINX_PORT=$("$BIN/benchtool" freeport)
	mkdir -p "$RUN/nginx/tmp"
	cat >"$RUN/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $RUN/nginx/nginx.pid;
error_log $RUN/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	open_file_cache max=10000 inactive=120s;
	types { application/json info; text/plain mod; application/zip zip; }
	default_type text/plain;
	client_body_temp_path $RUN/nginx/tmp/body;
	proxy_temp_path $RUN/nginx/tmp/proxy;
	fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
	uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
	scgi_temp_path $RUN/nginx/tmp/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $MODCACHE/cache/download;
	}
}
EOF
	nginx -e "$RUN/nginx/error.log" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -g 'daemon off;' >"$LOGS/nginx.log" 2>&1 &
	PIDS+=("$!")
	NGINX_URL=http://127.0.0.1:$NGINX_PORT
	wait_http "$NGINX_URL$(head -1 "$URLS/infomod.txt")" || { cat "$RUN/nginx/error.log" >&2; exit 1; }

	# A bare net/http file server over the same files: the ceiling for any
	# Go server here, which separates net/http's cost from modgate's.
	GONET_PORT=$("$BIN/benchtool" freeport)
	"$BIN/benchtool" static -dir "$MODCACHE/cache/download" -listen "127.0.0.1:$GONET_PORT" >"$LOGS/gonet.log" 2>&1 &
	PIDS+=("$!")
	declare -A URL_OF=([nginx]=$NGINX_URL [gonet]=http://127.0.0.1:$GONET_PORT)
	wait_http "${URL_OF[gonet]}$(head -1 "$URLS/infomod.txt")" || { cat "$LOGS/gonet.log" >&2; exit 1; }

	# modgate verifies what it caches against the real checksum database
	# (reached through the upstream's /sumdb/ endpoint, as the go command does).
	FILE_SUMDB=$("$BIN/benchtool" sumdb)
	start_modgate warm "$RUN/storage-warm" "file://$MODCACHE/cache/download" "$FILE_SUMDB"
	WARM_PID=$MG_PID
	URL_OF[modgate]=$MG_URL
	SERVERS="nginx gonet modgate"
	if [[ -n ${BENCH_MODGATE_BIN_B:-} ]]; then
		# An A/B comparison: a second modgate binary, e.g. with a proposed change.
		cp "$BENCH_MODGATE_BIN_B" "$BIN/modgate-b"
		start_modgate warm-b "$RUN/storage-warm-b" "file://$MODCACHE/cache/download" "$FILE_SUMDB" "$BIN/modgate-b"
		WARM_B_PID=$MG_PID
		URL_OF[modgate_b]=$MG_URL
		SERVERS="$SERVERS modgate_b"
	fi
	log "warming the servers (modgate fetches and verifies every file once)"
	for f in all list; do
		for who in $SERVERS; do
			"$BIN/benchtool" warm -base "${URL_OF[$who]}" -paths "$URLS/$f.txt" -c 4 >>"$LOGS/warm.log"
		done
	done
	WARM_FETCHES=$(metric_sum "${URL_OF[modgate]}" modgate_upstream_fetches_total)

	{
		echo "## 1. Cached serving: nginx (static files), bare Go net/http, warm modgate"
		echo
		echo "wrk, $CONNS connections, $THREADS threads, ${DURATION} s per run, paths rotating over the graph's $NMODS modules."
		echo "All servers share the machine with wrk and run one after another; the order alternates between rounds."
		echo "\"bare Go\" is a minimal net/http file server over the same files (benchtool static): the ceiling for a Go server here."
		echo "Ratios are modgate req/s ÷ nginx (or bare Go) req/s in the same round."
		echo
		if [[ -n ${URL_OF[modgate_b]:-} ]]; then
			echo "modgate B: $BENCH_MODGATE_BIN_B (same harness, its own warm cache)."
			echo
			echo "| mix | round | nginx req/s | bare Go req/s | modgate req/s | modgate B req/s | modgate/nginx | B/nginx | nginx p50 / p99 ms | modgate p50 / p99 ms | B p50 / p99 ms | errors | target (modgate) |"
			echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
		else
			echo "| mix | round | nginx req/s | bare Go req/s | modgate req/s | modgate/nginx | modgate/bare Go | nginx p50 / p99 ms | modgate p50 / p99 ms | errors | target |"
			echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
		fi
	} >>"$REPORT"
	declare -A RPS P50 P99
	for ((round = 1; round <= ROUNDS; round++)); do
		# Alternate the order so no server always runs on the cooler machine.
		order=$SERVERS
		((round % 2)) || order=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
		for mix in infomod all list; do
			errs=0
			for who in $order; do
				log "round $round, mix $mix: $who"
				res=$(run_wrk "$mix-$round-$who" "${URL_OF[$who]}" "$URLS/$mix.txt")
				read -r "RPS[$who]" "P50[$who]" "P99[$who]" e <<<"$res"
				errs=$((errs + e))
			done
			r=$(ratio "${RPS[modgate]}" "${RPS[nginx]}")
			case $mix in
			infomod) label=".info + .mod"; target="≥ 0.75, p99 ≤ 10 ms $(verdict "$(($(ge "$r" 0.75) & $(le "${P99[modgate]}" 10)))")" ;;
			all) label=".info + .mod + .zip"; target="≥ 0.95 $(verdict "$(ge "$r" 0.95)")" ;;
			list) label="@v/list (cached)"; target="≥ 10,000 req/s $(verdict "$(ge "${RPS[modgate]}" 10000)")" ;;
			esac
			if [[ -n ${URL_OF[modgate_b]:-} ]]; then
				echo "| $label | $round | ${RPS[nginx]} | ${RPS[gonet]} | ${RPS[modgate]} | ${RPS[modgate_b]} | $r | $(ratio "${RPS[modgate_b]}" "${RPS[nginx]}") | ${P50[nginx]} / ${P99[nginx]} | ${P50[modgate]} / ${P99[modgate]} | ${P50[modgate_b]} / ${P99[modgate_b]} | $errs | $target |" >>"$REPORT"
			else
				echo "| $label | $round | ${RPS[nginx]} | ${RPS[gonet]} | ${RPS[modgate]} | $r | $(ratio "${RPS[modgate]}" "${RPS[gonet]}") | ${P50[nginx]} / ${P99[nginx]} | ${P50[modgate]} / ${P99[modgate]} | $errs | $target |" >>"$REPORT"
			fi
		done
	done
	LOAD_FETCHES=$(($(metric_sum "${URL_OF[modgate]}" modgate_upstream_fetches_total) - WARM_FETCHES))
	{
		echo
		echo "modgate peak RSS (VmHWM) over warm-up and all rounds: $(hwm_mb "$WARM_PID") MiB${WARM_B_PID:+ (modgate B: $(hwm_mb "$WARM_B_PID") MiB)}."
		echo "modgate upstream fetches: $WARM_FETCHES while warming, $LOAD_FETCHES during the wrk runs."
		echo
	} >>"$REPORT"
	stop_pid "$WARM_PID"
	[[ -z ${WARM_B_PID:-} ]] || stop_pid "$WARM_B_PID"
fi

# ---------------------------------------------------------------- 2. one large uncached zip
if ! skip large; then
	log "section 2: 64 clients on one uncached $LARGE_SIZE zip"
	burst() { "$BIN/benchtool" burst -url "$1" -n "$2" -timeout 5m | sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p'; }
	{
		echo "## 2. 64 clients on one uncached zip"
		echo
		echo "A hermetic upstream on loopback (proxytest) serves one module with a $LARGE_SIZE zip, either at loopback speed"
		echo "or throttled to about $LARGE_RATE MiB/s like a WAN link. A fresh modgate (empty cache) fetches the zip, verifies"
		echo "it against the upstream's checksum database, and serves it. \"1\" is one client on its own fresh modgate;"
		echo "\"64\" is 64 clients started together on another fresh modgate. \"direct\" is as many clients straight from the"
		echo "upstream (its file server uses sendfile): at loopback speed, direct 64 is this machine's floor for fanning out the bytes."
		echo
		echo "| upstream | round | clients | wall s | wall ÷ 1 client | direct s (same clients) | upstream zip fetches | modgate peak RSS MiB | target |"
		echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
	} >>"$REPORT"
	for rate in 0 "$LARGE_RATE"; do
		if [[ $rate == 0 ]]; then speed=loopback; else speed="$rate MiB/s"; fi
		rm -f "$RUN/large.env"
		"$BIN/benchtool" largeup -size "$LARGE_SIZE" -rate "$rate" -info "$RUN/large.env" -max 30m >"$LOGS/largeup-$rate.log" 2>&1 &
		LARGE_PID=$!
		PIDS+=("$LARGE_PID")
		for ((i = 0; i < 600; i++)); do
			[[ -s $RUN/large.env ]] && break
			sleep 0.1
		done
		[[ -s $RUN/large.env ]] || { cat "$LOGS/largeup-$rate.log" >&2; exit 1; }
		# shellcheck disable=SC1090
		source "$RUN/large.env" # URL, GOSUMDB, ZIP, ZIPBYTES
		for ((round = 1; round <= LARGE_ROUNDS; round++)); do
			for clients in 1 64; do
				direct=$(burst "$URL$ZIP" "$clients")
				before=$(curl -fsS "$URL/_bench/count?path=$ZIP")
				start_modgate "large-$rate-$round-$clients" "$RUN/storage-large-$rate-$round-$clients" "$URL" "$GOSUMDB"
				wall=$(burst "$MG_URL$ZIP" "$clients")
				fetches=$(($(curl -fsS "$URL/_bench/count?path=$ZIP") - before))
				rss=$(hwm_mb "$MG_PID")
				stop_pid "$MG_PID"
				rm -rf "$RUN/storage-large-$rate-$round-$clients"
				if ((clients == 1)); then
					single=$wall
					echo "| $speed | $round | 1 | $wall | 1.00 | $direct | $fetches | $rss | |" >>"$REPORT"
				else
					r=$(ratio "$wall" "$single")
					ok=$(($(le "$r" 1.2) & (fetches == 1) & $(le "$rss" 64)))
					echo "| $speed | $round | 64 | $wall | $r | $direct | $fetches | $rss | 1 fetch, ≤ 64 MiB, ≤ 1.2× $(verdict "$ok") |" >>"$REPORT"
				fi
			done
		done
		stop_pid "$LARGE_PID"
	done
	echo >>"$REPORT"
fi

# ---------------------------------------------------------------- 3. cold go mod download all
if ! skip cold; then
	log "section 3: cold go mod download all, direct vs through a cold modgate"
	cp -r "$ROOT/bench/graph" "$RUN/graph"
	# cold_download GOPROXY: time `go mod download all` into a fresh cache.
	cold_download() {
		local cache t0 t1
		cache=$(mktemp -d "$RUN/gomodcache.XXXXXX")
		# Flush the previous round's writes so they do not slow this one.
		sync
		t0=$(now_s)
		(cd "$RUN/graph" && env GOPROXY="$1" GOSUMDB="$GOSUMDB_REAL" GONOSUMDB= GOPRIVATE= GONOPROXY= GOINSECURE= \
			GOMODCACHE="$cache" GOFLAGS=-modcacherw GOTOOLCHAIN=local timeout 900 go mod download all) \
			>>"$LOGS/cold.log" 2>&1 || { tail -20 "$LOGS/cold.log" >&2; exit 1; }
		t1=$(now_s)
		rm -rf "$cache"
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
	}
	{
		echo "## 3. Cold \`go mod download all\` of the graph"
		echo
		echo "Fresh GOMODCACHE each time (GOFLAGS=-modcacherw); \"via modgate\" uses a fresh modgate (empty cache) whose"
		echo "upstream is \`go env GOPROXY\`; \"direct\" uses that upstream itself. $NMODS modules, $GRAPH_MIB MiB of zips."
		echo "Both go over the same network; the order alternates between rounds."
		echo
		echo "| round | direct s | via modgate s | modgate ÷ direct | modgate upstream fetches | modgate peak RSS MiB | target |"
		echo "|---|---:|---:|---:|---:|---:|---|"
	} >>"$REPORT"
	for ((round = 1; round <= COLD_ROUNDS; round++)); do
		if ((round % 2)); then order="direct modgate"; else order="modgate direct"; fi
		for who in $order; do
			log "round $round: $who"
			if [[ $who == direct ]]; then
				direct=$(cold_download "$GOPROXY_REAL")
			else
				start_modgate "cold-$round" "$RUN/storage-cold-$round" "$GOPROXY_REAL" "$GOSUMDB_REAL"
				via=$(cold_download "$MG_URL")
				fetches=$(metric_sum "$MG_URL" modgate_upstream_fetches_total)
				rss=$(hwm_mb "$MG_PID")
				stop_pid "$MG_PID"
				rm -rf "$RUN/storage-cold-$round"
			fi
		done
		r=$(ratio "$via" "$direct")
		echo "| $round | $direct | $via | $r | $fetches | $rss | ≤ 1.1 $(verdict "$(le "$r" 1.1)") |" >>"$REPORT"
	done
	echo >>"$REPORT"
fi

# ---------------------------------------------------------------- report
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
DIRTY=$(cd "$ROOT" && git diff --quiet HEAD -- proxy cmd bench 2>/dev/null || echo " (with uncommitted changes)")
OUT=$RESULTS/$(date -u +%F).md
[[ -e $OUT ]] && OUT=$RESULTS/$(date -u +%F-%H%M).md
mkdir -p "$(dirname "$OUT")"
{
	echo "# modgate load benchmark, $STARTED"
	echo
	echo "- Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
	echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END. A shared machine makes every figure noisy."
	echo "- Software: $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | cut -d' ' -f3), wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
	if [[ -n ${BENCH_MODGATE_BIN:-} ]]; then
		echo "- modgate: prebuilt $BENCH_MODGATE_BIN (harness at commit $(cd "$ROOT" && git rev-parse --short HEAD))"
	else
		echo "- modgate: commit $(cd "$ROOT" && git rev-parse --short HEAD)$DIRTY"
	fi
	echo "- modgate serve flags: \`--list-ttl 1h --access-log=false --log-level warn $MODGATE_FLAGS\` (default policy otherwise)"
	echo "- Command: \`BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS BENCH_LARGE_ROUNDS=$LARGE_ROUNDS BENCH_COLD_ROUNDS=$COLD_ROUNDS bash bench/run.sh\`${SKIP:+ with BENCH_SKIP=$SKIP}${BENCH_MODGATE_BIN_B:+, A/B with BENCH_MODGATE_BIN_B=$BENCH_MODGATE_BIN_B}"
	echo
	cat "$REPORT"
} >"$OUT"
cat "$OUT"
log "report written to $OUT"
