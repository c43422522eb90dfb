#!/usr/bin/env bash
# Symmetric NATs on both sides, where only a relayed path works: the TURN
# server usage of RFC 6940 §9 on real kernels. Run through
# scripts/netns-nat.sh symmetric.
#
#   ns pub  br0 203.0.113.1/24: seed peer (TLS 203.0.113.1:6084), its STUN
#           server (UDP :3478) and its TURN server (UDP :3479), which it
#           advertises in TURN-SERVICE values
#    |-- ns nata  wan 203.0.113.10 | lan 10.0.1.1/24 -- ns a  10.0.1.2 (peer A)
#    `-- ns natb  wan 203.0.113.20 | lan 10.0.2.1/24 -- ns b  10.0.2.2 (peer B)
#
# Both NATs are symmetric (RFC 4787 §4.1 address-and-port-dependent
# mapping, §5 address-and-port-dependent filtering): masquerade with
# fully random source ports gives every new flow its own public port, so
# the server-reflexive address STUN reports is useless towards any other
# host, and only conntrack replies get in. A and B can each reach the
# public seed (whose host candidate answers, and which learns their
# peer-reflexive addresses), but no check between A and B can pass
# directly: their link must run through the TURN server.
#
# A and B find the TURN server themselves (Find for TURN-SERVICE at random
# Resource-IDs, then Fetch) after they join; the TURN secret is shared by
# the three nodes (in a file, as an overlay's shared-secret would be).
#
# Then a control: A and B restarted without TURN must find no path to each
# other (NAT_CONTROL_S seconds, default 30; 0 skips it).
#
# Needs root, iproute2, nftables and jq. Exits 0 when every check passed,
# 1 when one failed, 77 when network namespaces are not allowed.
set -euo pipefail
cd "$(dirname "$0")/../.."

PINGS=${NAT_PINGS:-20}

if [ "$(id -u)" != 0 ]; then
	echo "netns-nat symmetric: needs root (network namespaces, nftables)" >&2
	exit 77
fi
for c in ip nft jq; do
	command -v "$c" >/dev/null 2>&1 || { echo "netns-nat symmetric: $c is missing (run scripts/netns-nat.sh once to install it)" >&2; exit 1; }
done

. scripts/nat/lib.sh
netns_setup "netns-nat symmetric" rls

ip -n "$PUB" link add br0 type bridge
ip -n "$PUB" addr add 203.0.113.1/24 dev br0
ip -n "$PUB" link set br0 up

natrouter "$NATA" 203.0.113.10 10.0.1 "$NSA" pa
natrouter "$NATB" 203.0.113.20 10.0.2 "$NSB" pb
# Symmetric: a random public port for every new flow, replies only.
for ns in "$NATA" "$NATB"; do nat_replies_only "$ns" "counter masquerade fully-random"; done

build_overlay
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/turn-secret"
chmod 600 "$WORK/turn-secret"
NODE_ARGS=(--turn-secret-file "$WORK/turn-secret")

start_node "$PUB" node1 --listen 203.0.113.1:6084 --seed --ice --stun-server 203.0.113.1:3478 --turn-server 203.0.113.1:3479
wait_joined "$PUB" 30 || fail "seed did not start"
ok "seed peer on 203.0.113.1:6084, STUN server on :3478, TURN server on :3479"

t0=$(now_ms)
start_node "$NSA" node2 --listen 10.0.1.2:6084 --bootstrap 203.0.113.1:6084 --ice --stun 203.0.113.1:3478 --turn-use
wait_joined "$NSA" 60 || fail "A did not join through NAT A"
ta=$(($(now_ms) - t0))
ok "A (10.0.1.2 behind symmetric NAT 203.0.113.10) joined in $ta ms"
t0=$(now_ms)
start_node "$NSB" node3 --listen 10.0.2.2:6084 --bootstrap 203.0.113.1:6084 --ice --stun 203.0.113.1:3478 --turn-use
wait_joined "$NSB" 60 || fail "B did not join through NAT B"
tb=$(($(now_ms) - t0))
ok "B (10.0.2.2 behind symmetric NAT 203.0.113.20) joined in $tb ms"

for n in node2 node3; do
	end=$((SECONDS + 60))
	until grep -q 'found a TURN server' "$WORK/$n.log"; do
		[ $SECONDS -lt $end ] || fail "$n found no TURN server"
		sleep 0.2
	done
done
ok "A and B found the TURN server in the overlay: $(grep -o 'address=[0-9.:]*' "$WORK/node2.log" | head -1)"

IDA=$(status "$NSA" | jq -r .node_id)
IDB=$(status "$NSB" | jq -r .node_id)
link() { status "$1" | jq -c --arg p "$2" '.links[] | select(.node_id == $p)'; }
end=$((SECONDS + 120))
until [ -n "$(link "$NSA" "$IDB")" ] && [ -n "$(link "$NSB" "$IDA")" ]; do
	[ $SECONDS -lt $end ] || fail "A and B have no link to each other"
	sleep 0.2
done
l=$(link "$NSA" "$IDB")
lb=$(link "$NSB" "$IDA")
echo "    A's link to B: $l"
echo "    B's link to A: $lb"
[ "$(jq -r .type <<<"$l")" = DTLS-UDP-SR ] || fail "A-B link is not an ICE link: $l"
pa=$(jq -r '.ice.local_type + "/" + .ice.remote_type' <<<"$l")
pb=$(jq -r '.ice.local_type + "/" + .ice.remote_type' <<<"$lb")
case "$pa $pb" in
*relay*relay*) ;;
*) fail "A-B link runs without a relay at either end: A $pa, B $pb" ;;
esac
ok "A and B linked through the TURN relay: A's pair $pa ($(jq -r '.ice.local + " -> " + .ice.remote' <<<"$l")), B's pair $pb ($(jq -r '.ice.local + " -> " + .ice.remote' <<<"$lb"))"

out=$(x "$NSA" "$R" ping -c "$PINGS" "$IDB" 2>&1 || true)
echo "$out" >"$WORK/ping.txt"
times=$(grep -o 'time=[0-9.]*' <<<"$out" | cut -d= -f2 | sort -n || true)
c=$(grep -c . <<<"$times" || true)
[ -n "$times" ] || c=0
med=$(sed -n "$(((c + 1) / 2))p" <<<"$times")
[ "$c" = "$PINGS" ] || fail "only $c of $PINGS pings A -> B answered over the relay"
ok "ping A -> B over the relay: $c/$PINGS answered, median RTT $med ms"

{
	x "$NSA" "$R" store "node2@nat.example.org" SIP-REGISTRATION "relayed-hello" &&
		x "$NSB" "$R" fetch "node2@nat.example.org" SIP-REGISTRATION
} >"$WORK/storefetch.txt" 2>&1 && grep -q relayed-hello "$WORK/storefetch.txt" || fail "store on A / fetch on B"
ok "stored on A, fetched on B"

# Control: without TURN the same NATs leave A and B no path. A and B are
# restarted without --turn-use (the seed's TURN server stays, unused) and
# must not link within NAT_CONTROL_S seconds.
if [ "${NAT_CONTROL_S:-30}" -gt 0 ]; then
	for pid in $(ip netns pids "$NSA") $(ip netns pids "$NSB"); do kill "$pid" 2>/dev/null || true; done
	sleep 1
	start_node "$NSA" node2 --listen 10.0.1.2:6084 --bootstrap 203.0.113.1:6084 --ice --stun 203.0.113.1:3478
	start_node "$NSB" node3 --listen 10.0.2.2:6084 --bootstrap 203.0.113.1:6084 --ice --stun 203.0.113.1:3478
	end=$((SECONDS + ${NAT_CONTROL_S:-30}))
	while [ $SECONDS -lt $end ]; do
		if [ -n "$(link "$NSA" "$IDB" 2>/dev/null)" ] || [ -n "$(link "$NSB" "$IDA" 2>/dev/null)" ]; then
			fail "control: A and B linked without TURN through symmetric NATs"
		fi
		sleep 0.5
	done
	ok "control: without TURN, A and B found no path to each other in ${NAT_CONTROL_S:-30} s (B joined: $(joined "$NSB" && echo yes || echo no))"
fi

echo "    NAT A dropped $(($(count "$NATA" filter input) + $(count "$NATA" filter forward))) unsolicited packets," \
	"NAT B $(($(count "$NATB" filter input) + $(count "$NATB" filter forward)))"
echo "RESULT join_a_ms=$ta join_b_ms=$tb pair_a=$pa pair_b=$pb relayed_rtt_median_ms=$med"
echo "all $checks checks passed"
