# shellcheck shell=bash
# Shared by scripts/netns-nat.sh and the cases in scripts/nat, which source
# it from the repository root: the five network namespaces of one run (pub,
# nata, natb, a, b), their removal on exit, the NAT routers between them,
# and the helpers that start reload nodes in them and check on them.

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

# natrouter NS WAN-ADDR LAN-NET PEER-NS BRIDGE-PORT [GATEWAY] makes NS a
# router between pub's bridge br0 (its wan, WAN-ADDR/24, default route to
# GATEWAY, 203.0.113.1 unless given) and PEER-NS (its lan LAN-NET.1/24;
# the peer is LAN-NET.2, routed through it). The NAT rules are the
# caller's (see nat_replies_only).
natrouter() {
	local ns=$1 wan=$2 lan=$3 peer=$4 port=$5 gw=${6:-203.0.113.1}
	ip -n "$PUB" link add "$port" type veth peer name wan netns "$ns"
	ip -n "$PUB" link set "$port" master br0 up
	ip -n "$ns" addr add "$wan/24" dev wan
	ip -n "$ns" link set wan up
	ip -n "$ns" link add lan type veth peer name eth0 netns "$peer"
	ip -n "$ns" addr add "$lan.1/24" dev lan
	ip -n "$ns" link set lan up
	ip -n "$ns" route add default via "$gw"
	x "$ns" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$peer" addr add "$lan.2/24" dev eth0
	ip -n "$peer" link set eth0 up
	ip -n "$peer" route add default via "$lan.1"
}

# nat_replies_only NS [MASQUERADE] gives NAT NS the rules of a NAT that
# lets only conntrack replies in (address-and-port-dependent filtering,
# RFC 4787 §5). MASQUERADE is the postrouting statement: "masquerade" by
# default (endpoint-independent, port-preserving mapping), "counter
# masquerade fully-random" for a symmetric NAT. Unsolicited datagrams to
# the router itself are dropped in its input chain, so they never leave a
# conntrack entry behind that would make the next outbound flow take
# another port. The forward and input chains count what they drop
# (count NS filter forward|input).
nat_replies_only() {
	local ns=$1 masq=${2:-masquerade}
	x "$ns" nft -f - <<NFT
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "wan" $masq
	}
}
table ip filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
		counter
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state new counter drop
	}
}
NFT
}

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
