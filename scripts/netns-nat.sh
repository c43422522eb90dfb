#!/usr/bin/env bash
# Real NAT traversal: three RELOAD peers in Linux network namespaces, two
# of them behind kernel NATs (nftables masquerade), join one overlay and
# talk over direct ICE links with server-reflexive candidates (RFC 6940
# §6.5.1); then the NATs' public links get delay and loss, and the
# framing layer's retransmission (§6.6.3) still delivers.
#
# Topology (every name carries this run's process ID, so reruns and
# parallel runs do not collide; everything is removed on exit):
#
#   ns pub  br0 203.0.113.1/24: seed peer (TLS 203.0.113.1:6084) and its
#           STUN server (UDP 203.0.113.1:3478); the "internet"
#    |-- ns nata  wan 203.0.113.10 | lan 10.0.1.1/24 -- ns a  10.0.1.2 (peer A)
#    `-- ns natb  wan 203.0.113.20 | lan 10.0.2.1/24 -- ns b  10.0.2.2 (peer B)
#
# The public side has no route to 10.0.0.0/8: host candidates of A and B
# cannot reach each other, only the NATs' mappings can.
#
# NAT A, "full cone" (endpoint-independent mapping and filtering, RFC 4787
# §4.1, §5): masquerade keeps the inside source port when it is free,
# which, with one inside host, it always is, so every flow from one
# socket gets the same public address:port whatever its destination; an
# unsolicited UDP datagram to 203.0.113.10:P is forwarded to 10.0.1.2:P
# (a DNAT of the whole UDP port range, like a router's exposed host).
#
# NAT B, "port-restricted cone" (endpoint-independent mapping,
# address-and-port-dependent filtering): masquerade as above, and only
# conntrack replies get in: a datagram reaches B only from an address:port
# that B has sent to from that mapping. Unsolicited datagrams to the
# router itself are dropped in its input chain, so they never leave a
# conntrack entry behind that would make the next outbound flow take
# another port (Linux would then map endpoint-dependently).
#
# Impairment: tc netem (delay and loss) on both NAT WAN links when the
# kernel has it (sch_netem); otherwise a userspace delay line
# (scripts/nat/delayline) bridges each NAT's WAN link to br0 with the same
# delay and random loss.
#
# Needs root, iproute2 and nftables (installed with apt-get when missing).
# Usage: scripts/netns-nat.sh [DELAY_MS [LOSS_PERCENT]]   (default 50 5)
#        scripts/netns-nat.sh symmetric
#   runs the other case, scripts/nat/symmetric.sh: both peers behind
#   symmetric NATs (random port per flow), linked through a TURN relay
#   that a public peer serves and advertises (RFC 6940 §9).
#        scripts/netns-nat.sh portmap
#   runs scripts/nat/portmap.sh: a peer behind miniupnpd (UPnP IGD and
#   NAT-PMP) maps a port with --portmap and is reached through it.
#        scripts/netns-nat.sh routed
#   runs scripts/nat/routed.sh: pings from a client behind a NAT to a far
#   peer with direct response and relay peer routing (RFC 7263, RFC 7264).
# KEEP_LOGS=1 keeps the nodes' logs; NODE_FLAGS=-v makes them verbose.
# Exits 0 when every check passed, 1 when one failed, and 77 when this
# kernel or sandbox does not allow network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
symmetric | routed | portmap) need_case=$1 ;;
esac

DELAY=${1:-50}
LOSS=${2:-5}
PINGS=${NAT_PINGS:-20}

if [ "$(id -u)" != 0 ]; then
	echo "netns-nat: needs root (network namespaces, nftables)" >&2
	exit 77
fi
need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	if command -v apt-get >/dev/null 2>&1; then
		echo "installing $2 (for $1)"
		if [ -z "${apt_updated:-}" ]; then
			apt-get update -qq
			apt_updated=1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
	fi
	command -v "$1" >/dev/null 2>&1 || { echo "netns-nat: $1 (Debian package $2) is missing" >&2; exit 1; }
}
need ip iproute2
need nft nftables
need tc iproute2
need jq jq
need curl curl
case "${need_case:-}" in
symmetric) exec scripts/nat/symmetric.sh ;;
routed) exec scripts/nat/routed.sh ;;
portmap)
	need miniupnpd miniupnpd-nftables
	exec scripts/nat/portmap.sh
	;;
esac

. scripts/nat/lib.sh
netns_setup netns-nat rln

# The public network: a bridge in pub.
ip -n "$PUB" link add br0 type bridge
ip -n "$PUB" addr add 203.0.113.1/24 dev br0
ip -n "$PUB" link set br0 up

natrouter "$NATA" 203.0.113.10 10.0.1 "$NSA" pa
natrouter "$NATB" 203.0.113.20 10.0.2 "$NSB" pb

# Impairment: tc netem if this kernel has it, else the delay line, which
# copies raw frames and so needs checksum and segmentation offloads off.
if x "$PUB" tc qdisc add dev br0 root netem delay 1ms 2>/dev/null; then
	x "$PUB" tc qdisc del dev br0 root
	impair="tc netem"
else
	impair="delay line (no sch_netem in this kernel)"
	need ethtool ethtool
	go build -o "$WORK/delayline" ./scripts/nat/delayline
	for ns in "$PUB" "$NATA" "$NATB" "$NSA" "$NSB"; do
		for dev in $(ip -n "$ns" -o link show | awk -F': ' '{ sub("@.*", "", $2); print $2 }'); do
			[ "$dev" = lo ] || x "$ns" ethtool -K "$dev" tx off tso off gso off gro off >/dev/null 2>&1 || true
		done
	done
fi

x "$NATA" nft -f - <<'EOF'
table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat;
		# endpoint-independent filtering: any outside host reaches the
		# inside host's UDP sockets through their (port-preserving) mapping
		iifname "wan" udp dport 1024-65535 ct state new counter dnat to 10.0.1.2
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "wan" masquerade
	}
}
EOF
nat_replies_only "$NATB"

# An overlay with three enrolled identities; node1 is the seed.
build_overlay

start_node "$PUB" node1 --listen 203.0.113.1:6084 --seed --ice --stun-server 203.0.113.1:3478
wait_joined "$PUB" 30 || fail "seed did not start"
ok "seed peer on 203.0.113.1:6084, STUN server on 203.0.113.1:3478"

# A and B join through their NATs: TLS to the seed (TCP through the
# masquerade), then ICE Attach with server-reflexive candidates.
t0=$(now_ms)
start_node "$NSA" node2 --listen 10.0.1.2:6084 --bootstrap 203.0.113.1:6084 --ice --stun 203.0.113.1:3478
wait_joined "$NSA" 60 || fail "A did not join through NAT A"
ta=$(($(now_ms) - t0))
ok "A (10.0.1.2 behind full-cone NAT 203.0.113.10) joined in $ta ms"
t0=$(now_ms)
start_node "$NSB" node3 --listen 10.0.2.2:6084 --bootstrap 203.0.113.1:6084 --ice --stun 203.0.113.1:3478
wait_joined "$NSB" 60 || fail "B did not join through NAT B"
tb=$(($(now_ms) - t0))
ok "B (10.0.2.2 behind port-restricted NAT 203.0.113.20) joined in $tb ms"

IDA=$(status "$NSA" | jq -r .node_id)
IDB=$(status "$NSB" | jq -r .node_id)

# A's link to B: ICE over NAT mappings, never over private addresses.
linkAB() { status "$NSA" | jq -c --arg b "$IDB" '.links[] | select(.node_id == $b)'; }
end=$((SECONDS + 60))
until [ -n "$(linkAB)" ]; do
	[ $SECONDS -lt $end ] || fail "A has no link to B"
	sleep 0.2
done
l=$(linkAB)
echo "    A's link to B: $l"
[ "$(jq -r .type <<<"$l")" = DTLS-UDP-SR ] || fail "A-B link is not an ICE link: $l"
case "$(jq -r .ice.remote <<<"$l")" in
203.0.113.20:*) ;;
*) fail "A-B link does not run to B's NAT mapping: $l" ;;
esac
case "$(jq -r .ice.remote_type <<<"$l")" in
srflx | prflx) ;;
*) fail "A-B link remote candidate is not reflexive: $l" ;;
esac
lb=$(status "$NSB" | jq -c --arg a "$IDA" '.links[] | select(.node_id == $a)')
echo "    B's link to A: $lb"
case "$(jq -r .ice.remote <<<"$lb")" in
203.0.113.10:*) ;;
*) fail "B-A link does not run to A's NAT mapping: $lb" ;;
esac
ok "A and B linked directly by ICE: A -> $(jq -r '.ice.remote_type + " " + .ice.remote' <<<"$l"), B -> $(jq -r '.ice.remote_type + " " + .ice.remote' <<<"$lb")"

# pings PHASE: PINGS overlay pings A -> B, one after the other over A's
# DTLS link to B; prints "sent ok median_ms rate", rate being the answered
# pings per second of the whole run (each waits for the one before).
pings() {
	local out t0 t1
	t0=$(date +%s%N)
	out=$(x "$NSA" "$R" ping -c "$PINGS" "$IDB" 2>&1 || true)
	t1=$(date +%s%N)
	echo "$out" >"$WORK/ping-$1.txt"
	local times
	times=$(grep -o 'time=[0-9.]*' <<<"$out" | cut -d= -f2 | sort -n || true)
	local c
	c=$(grep -c . <<<"$times" || true)
	[ -n "$times" ] || c=0
	echo "$PINGS $c $(sed -n "$(((c + 1) / 2))p" <<<"$times") $(awk -v c="$c" -v ns="$((t1 - t0))" 'BEGIN { printf "%.1f", c / (ns / 1e9) }')"
}
storefetch() { # storefetch VALUE: store on A, fetch on B
	{
		x "$NSA" "$R" store "node2@nat.example.org" SIP-REGISTRATION "$1" &&
			x "$NSB" "$R" fetch "node2@nat.example.org" SIP-REGISTRATION
	} >"$WORK/storefetch-$1.txt" 2>&1 && grep -q "$1" "$WORK/storefetch-$1.txt"
}
retrans() { status "$NSA" | jq -r --arg b "$IDB" '.links[] | select(.node_id == $b) | "\(.frames_sent) \(.retransmissions)"'; }

read -r n c med rate0 <<<"$(pings clean)"
[ "$c" = "$n" ] || fail "only $c of $n pings A -> B answered without impairment"
ok "ping A -> B: $c/$n answered, median RTT $med ms, $rate0 pings/s (no impairment)"
storefetch "hello-through-nat" || fail "store on A / fetch on B"
ok "stored on A, fetched on B"
read -r f0 r0 <<<"$(retrans)"

# Impairment on both NAT WAN links, both directions.
if [ "$impair" = "tc netem" ]; then
	for d in "$PUB pa" "$PUB pb" "$NATA wan" "$NATB wan"; do
		set -- $d
		x "$1" tc qdisc add dev "$2" root netem delay "${DELAY}ms" loss "${LOSS}%"
	done
else
	# Each NAT's WAN cable leaves the bridge and runs through a delay
	# line to a new bridge port: natX wan <-> pX | delayline | qX <-> qXb (br0).
	for s in a b; do
		ip -n "$PUB" link add "q$s" type veth peer name "q${s}b"
		x "$PUB" ethtool -K "q$s" tx off tso off gso off gro off >/dev/null 2>&1 || true
		x "$PUB" ethtool -K "q${s}b" tx off tso off gso off gro off >/dev/null 2>&1 || true
		ip -n "$PUB" link set "q${s}b" master br0 up
		ip -n "$PUB" link set "q$s" promisc on up
		ip -n "$PUB" link set "p$s" nomaster
		ip -n "$PUB" link set "p$s" promisc on up
		ip netns exec "$PUB" "$WORK/delayline" -a "p$s" -b "q$s" -delay "${DELAY}ms" -loss "$LOSS" >"$WORK/delayline-$s.out" 2>&1 &
		PIDS+=($!)
	done
fi
ok "impairment on both NAT links ($impair): ${DELAY} ms delay and ${LOSS}% loss each way"

read -r n c med rate1 <<<"$(pings impaired)"
# Five store/fetch rounds; a round whose requests time out (each request
# already has its own retransmissions) is tried again, up to three times.
good=0 tries=0
for i in 1 2 3 4 5; do
	for t in 1 2 3; do
		tries=$((tries + 1))
		if storefetch "lossy-$i-$t"; then
			good=$((good + 1))
			break
		fi
	done
done
read -r f1 r1 <<<"$(retrans)"
[ "$c" -ge $((n * 9 / 10)) ] || fail "only $c of $n pings A -> B answered under impairment"
[ "$good" = 5 ] || fail "only $good of 5 store/fetch rounds succeeded within three tries under impairment"
ok "ping A -> B under impairment: $c/$n answered, median RTT $med ms, $rate1 pings/s; store/fetch $good/5 in $tries tries"
ok "A -> B link: $((f1 - f0)) frames sent, $((r1 - r0)) retransmitted under impairment"
echo "    NAT A let in $(count "$NATA" nat pre) unsolicited UDP flows (endpoint-independent filtering);" \
	"NAT B dropped $(($(count "$NATB" filter input) + $(count "$NATB" filter forward))) unsolicited packets"
echo "RESULT join_a_ms=$ta join_b_ms=$tb ping_rate_clean=$rate0 ping_rate_impaired=$rate1"
echo "all $checks checks passed"
