# shellcheck shell=bash
# Shared by scripts/netns-nat.sh and scripts/nat/symmetric.sh, which source
# it from the repository root: the five network namespaces of one run (pub,
# nata, natb, a, b), their removal on exit, and the helpers that start
# reload nodes in them and check on them.

# netns_setup NAME PREFIX creates the namespaces, named after PREFIX and
# this process so that reruns and parallel runs do not collide, and sets
# PUB NATA NATB NSA NSB, ALL, WORK (a temporary directory) and PIDS (the
# processes to stop on exit). Exits 77 when the kernel or sandbox does
# not allow network namespaces.
netns_setup() {
	local name=$1 prefix=$2
	P=$prefix$$
	PUB=$P-pub NATA=$P-nata NATB=$P-natb NSA=$P-a NSB=$P-b
	ALL=("$NSA" "$NSB" "$NATA" "$NATB" "$PUB")
	WORK=$(mktemp -d)
	PIDS=()
	trap netns_cleanup EXIT
	if ! ip netns add "$PUB" 2>"$WORK/err"; then
		echo "$name: SKIP: this kernel or sandbox does not allow network namespaces: $(cat "$WORK/err")" >&2
		exit 77
	fi
	for ns in "$NATA" "$NATB" "$NSA" "$NSB"; do ip netns add "$ns"; done
	for ns in "${ALL[@]}"; do ip -n "$ns" link set lo up; done
}

netns_cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	# Anything else still running inside this run's namespaces would keep
	# them alive after ip netns del.
	for ns in "${ALL[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
	done
	for ns in "${ALL[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	if [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}

x() { ip netns exec "$@"; } # x NS COMMAND...

# build_overlay builds reload into WORK (R) and makes a three-node overlay
# whose bootstrap node is the public seed at 203.0.113.1:6084.
build_overlay() {
	go build -o "$WORK/reload" ./cmd/reload
	R=$WORK/reload
	"$R" overlay init --dir "$WORK/ov" --name nat.example.org --nodes 3 --bootstrap 203.0.113.1:6084 >/dev/null
}

# NODE_ARGS (an array) holds flags every node gets; NODE_FLAGS (a string,
# e.g. -v) is the user's.
NODE_ARGS=()
start_node() { # start_node NS NAME ARGS...
	local ns=$1 name=$2
	shift 2
	# Not through x: a function in the background runs in a subshell, and
	# $! would be the subshell's process ID instead of the node's.
	# shellcheck disable=SC2086
	ip netns exec "$ns" "$R" node --config "$WORK/ov/overlay.xml" --identity "$WORK/ov/nodes/$name" \
		"${NODE_ARGS[@]}" ${NODE_FLAGS:-} "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
	PIDS+=($!)
}
status() { x "$1" "$R" status --json; }
joined() { status "$1" 2>/dev/null | grep -q '"joined": true'; }
wait_joined() { # wait_joined NS SECONDS
	local end=$((SECONDS + $2))
	until joined "$1"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}
now_ms() { date +%s%3N; }
fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/node*.log "$WORK"/storefetch-*.txt; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
	exit 1
}
checks=0
ok() { checks=$((checks + 1)); echo "ok  $*"; }
# count NS TABLE CHAIN: the packets the nftables chain's rules counted.
count() { x "$1" nft list chain ip "$2" "$3" | grep -o 'packets [0-9]*' | awk '{ n += $2 } END { print n + 0 }'; }
