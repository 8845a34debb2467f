#!/bin/sh
# bench/cgi/measure.sh - what one CGI run costs: the CGI programs of
# bench/cgi/ under `perf stat`, against a real pool, side by side.
#
#   bench/cgi/measure.sh                 # after: make build/bench/cgi/cgi_noop
#                                        #   build/bench/cgi/cgi_pool build/bench/cgi/cgi_static
#                                        #   build/phantompoold build/phantomdb-ref
#                                        #   build/phantompool-shmdump
#
# Starts the reference backend (build/phantomdb-ref) on an ephemeral
# 127.0.0.1 port and a phantompoold in front of it (--min 4 --max 4, a pool
# of its own), then, REPEATS times in turn for each program:
#
#   PHANTOMPOOL=<pool> perf stat -r RUNS -e task-clock,page-faults,context-switches PROG >/dev/null
#
# and prints one line per program and figure: the median of the REPEATS
# means, with the range, e.g.
#
#   cgi_static task-clock 0.912 ms (0.905-0.930) page-faults 51 (51-51) context-switches 2.00 (1.99-2.00)
#
# and `name value unit` lines for scripts (cgi_static_task_clock 0.912 ms).
# Then, unless STRACE=0, one run of each pool program under `strace -f -c`
# (system calls by count) and `strace -f -tt` (the timeline), and with
# PROFILE=1 a `perf record -e cpu-clock` over PROFILE_RUNS runs of
# cgi_static (report: top symbols).  Everything it starts it stops (trap),
# and its temp dir goes too (KEEP=1 keeps it: strace and perf output).
#
# BEFORE=DIR also measures DIR/bench/cgi/PROG (another build, e.g. of the
# commit before a change) as before_PROG, interleaved with this build's
# runs, against the same daemon.
#
# Environment: PP_BUILD (default build), RUNS (300), REPEATS (3),
# PROGS (cgi_noop cgi_static cgi_pool), DAEMON_ARGS (more phantompoold
# options), STRACE (1), PROFILE (0), PROFILE_RUNS (2000), KEEP (0),
# PERF_EVENTS (task-clock,page-faults,context-switches).
#
# The machine should be otherwise idle: perf stat counts the CGI process
# (task-clock includes its exec and exit), not the daemon it wakes.
set -eu
B=$(cd "${PP_BUILD:-build}" && pwd)
RUNS=${RUNS:-300}
REPEATS=${REPEATS:-3}
PROGS=${PROGS:-cgi_noop cgi_static cgi_pool}
EVENTS=${PERF_EVENTS:-task-clock,page-faults,context-switches}
POOL=cgim-$$
TMP=$(mktemp -d /tmp/pp-cgi-measure.XXXXXX)
BACKEND_PID= DAEMON_PID=

stop() {
	pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	stop "$DAEMON_PID"
	stop "$BACKEND_PID"
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

for p in phantomdb-ref phantompoold phantompool-shmdump; do
	[ -x "$B/$p" ] || { echo "measure.sh: $B/$p missing (make it first)" >&2; exit 2; }
done
# "label=path" for every program measured.
LIST=
for p in $PROGS; do
	[ -x "$B/bench/cgi/$p" ] || { echo "measure.sh: $B/bench/cgi/$p missing (make it first)" >&2; exit 2; }
	if [ -n "${BEFORE:-}" ]; then
		[ -x "$BEFORE/bench/cgi/$p" ] || { echo "measure.sh: $BEFORE/bench/cgi/$p missing" >&2; exit 2; }
		LIST="$LIST before_$p=$BEFORE/bench/cgi/$p"
	fi
	LIST="$LIST $p=$B/bench/cgi/$p"
done
command -v perf >/dev/null || { echo "measure.sh: perf is not installed" >&2; exit 2; }

"$B/phantomdb-ref" --port 0 --port-file "$TMP/port" --quiet >/dev/null 2>"$TMP/backend.log" &
BACKEND_PID=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$TMP/port" ] || { echo "measure.sh: the reference backend did not start" >&2; exit 1; }
URL="http://127.0.0.1:$(cat "$TMP/port")"

# shellcheck disable=SC2086 # DAEMON_ARGS is a list of options
"$B/phantompoold" -f -p "$POOL" -b "$URL" --min 4 --max 4 --pidfile "$TMP/daemon.pid" \
	${DAEMON_ARGS:-} 2>"$TMP/daemon.log" &
DAEMON_PID=$!
i=0
until "$B/phantompool-shmdump" -p "$POOL" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -ge 200 ] || ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "measure.sh: phantompoold did not become ready; its log:" >&2
		cat "$TMP/daemon.log" >&2
		exit 1
	fi
	sleep 0.05
done
export PHANTOMPOOL="$POOL"

# Every program must answer 200 before it is measured.
for lp in $LIST; do
	out=$("${lp#*=}") || { echo "measure.sh: ${lp%%=*} failed: $out" >&2; exit 1; }
	case $out in "Status: 200"*) ;; *) echo "measure.sh: ${lp%%=*} answered: $out" >&2; exit 1 ;; esac
done

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); perf stat -r $RUNS x $REPEATS, pool $POOL (--min 4 --max 4 ${DAEMON_ARGS:-})"
# perf stat -x, lines: value,unit,event,...  One file per program and repeat.
r=1
while [ $r -le "$REPEATS" ]; do
	for lp in $LIST; do
		perf stat -x, -r "$RUNS" -e "$EVENTS" -o "$TMP/stat.${lp%%=*}.$r" "${lp#*=}" >/dev/null
	done
	r=$((r + 1))
done

# Median and range of the REPEATS means, per program and event.
for lp in $LIST; do
	p=${lp%%=*}
	line=$p
	for ev in $(echo "$EVENTS" | tr , ' '); do
		vals=$(for f in "$TMP"/stat."$p".*; do
			awk -F, -v ev="$ev" '$3 == ev || $3 ~ "^" ev ":" { print $1 }' "$f"
		done | sort -g)
		set -- $vals
		n=$#
		med=$(echo "$vals" | awk -v n="$n" 'NR == int((n + 1) / 2) { print }')
		lo=$1
		eval "hi=\${$n}"
		case $ev in
		task-clock) unit=ms show=' ms' fmt='%.3f' ;;
		page-faults) unit=count show= fmt='%.1f' ;;
		*) unit=count show= fmt='%.2f' ;;
		esac
		m=$(printf "$fmt" "$med")
		l=$(printf "$fmt" "$lo")
		h=$(printf "$fmt" "$hi")
		line="$line $ev $m$show ($l-$h)"
		echo "${p}_$(echo "$ev" | tr - _) $m $unit" >>"$TMP/figures"
	done
	echo "$line" | sed 's/  */ /g'
done
cat "$TMP/figures"

if [ "${STRACE:-1}" = 1 ] && command -v strace >/dev/null; then
	for p in $PROGS; do
		[ "$p" = cgi_noop ] && continue
		strace -f -c -o "$TMP/strace-c.$p" "$B/bench/cgi/$p" >/dev/null
		strace -f -tt -o "$TMP/strace-tt.$p" "$B/bench/cgi/$p" >/dev/null
		echo "=== strace -f -c $p ($(grep -c . "$TMP/strace-tt.$p") lines in the -tt timeline)"
		cat "$TMP/strace-c.$p"
	done
fi

if [ "${PROFILE:-0}" = 1 ]; then
	n=${PROFILE_RUNS:-2000}
	perf record -q -e cpu-clock -F 20000 -g -o "$TMP/perf.data" -- sh -c \
		"i=0; while [ \$i -lt $n ]; do '$B/bench/cgi/cgi_static' >/dev/null; i=\$((i + 1)); done" 2>/dev/null
	echo "=== perf record -e cpu-clock, $n runs of cgi_static (comm cgi_static, top symbols)"
	perf report -i "$TMP/perf.data" --comm cgi_static --no-children --sort dso,sym --stdio 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -60
fi
