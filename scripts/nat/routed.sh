#!/usr/bin/env bash
# Direct response routing (RFC 7263) and relay peer routing (RFC 7264) on
# real kernels, for a requester behind a NAT. Run through
# scripts/netns-nat.sh routed.
#
#   ns pub  br0 203.0.113.1/24: seed peer S (TLS 203.0.113.1:6084)
#    |-- ns p1   203.0.113.2: public peer P1
#    |-- ns p2   203.0.113.3: public peer P2
#    |-- ns p3   203.0.113.4: public peer P3
#    `-- ns nata wan 203.0.113.10 | lan 10.0.1.1/24 -- ns a 10.0.1.2 (R)
#
# R is a client (RFC 6940 §3.2.1) behind a port-restricted NAT (only
# conntrack replies get in): it bootstraps through S and keeps that TLS
# link, so S is its relay peer (RFC 7264 §3.2.2). The far peer F is a
# public peer R has no link to, so R's requests to it are forwarded by at
# least one peer (the case prints which).
# Every public peer answers with --response-routes dial.
#
# From R, pings to F by srr, drr and rpr (NAT_PINGS each, default 10).
# Per mode the case prints the overlay hops of the answers (R's
# reload_answer_hops), their RTT and how F sent them (F's
# reload_response_route_answers_total{route}). Expected:
#   - srr: the answer retraces the request's path;
#   - drr: R offers its listener 10.0.1.2:6084, which no public host can
#     reach (a private address behind the NAT, and the NAT lets nothing
#     in that R did not open): F's dial fails and F answers by srr
#     (RFC 7263 §3.2.1 fallback): the answer still arrives;
#   - rpr: F sends the answer to S, which relays it to R (2 hops).
# Then F is restarted with --response-routes linked: rpr still relays
# (F has a link to S, or gets one as a ring neighbour), drr falls back
# without F contacting R's address at all.
# Any unanswered ping fails the case.
#
# Needs root, iproute2, nftables, jq and curl. Exits 0 when every check
# passed, 1 when one failed, 77 when network namespaces are not allowed.
set -euo pipefail
cd "$(dirname "$0")/../.."

PINGS=${NAT_PINGS:-10}

if [ "$(id -u)" != 0 ]; then
	echo "netns-nat routed: needs root (network namespaces, nftables)" >&2
	exit 77
fi
for c in ip nft jq curl; do
	command -v "$c" >/dev/null 2>&1 || { echo "netns-nat routed: $c is missing (run scripts/netns-nat.sh once to install it)" >&2; exit 1; }
done

. scripts/nat/lib.sh
netns_setup "netns-nat routed" rlr
# Three more namespaces for the public peers; netns_cleanup removes ALL.
NS1=$P-p1 NS2=$P-p2 NS3=$P-p3
for ns in "$NS1" "$NS2" "$NS3"; do
	ip netns add "$ns"
	ALL+=("$ns")
	ip -n "$ns" link set lo up
done

ip -n "$PUB" link add br0 type bridge
ip -n "$PUB" addr add 203.0.113.1/24 dev br0
ip -n "$PUB" link set br0 up

i=2
for ns in "$NS1" "$NS2" "$NS3"; do
	ip -n "$PUB" link add "p$i" type veth peer name eth0 netns "$ns"
	ip -n "$PUB" link set "p$i" master br0 up
	ip -n "$ns" addr add "203.0.113.$i/24" dev eth0
	ip -n "$ns" link set eth0 up
	i=$((i + 1))
done

# NAT A in front of R: masquerade, and only conntrack replies get in
# (port-restricted, RFC 4787 §5); no port is forwarded to R.
natrouter "$NATA" 203.0.113.10 10.0.1 "$NSA" pa
nat_replies_only "$NATA"

go build -o "$WORK/reload" ./cmd/reload
R=$WORK/reload
"$R" overlay init --dir "$WORK/ov" --name nat.example.org --nodes 5 --bootstrap 203.0.113.1:6084 >/dev/null
NODE_ARGS=(--metrics 127.0.0.1:9100)

# start_peer NS NAME ADDR POLICY
start_peer() { start_node "$1" "$2" --listen "$3:6084" --bootstrap 203.0.113.1:6084 --response-routes "$4"; }
start_node "$PUB" node1 --listen 203.0.113.1:6084 --seed --response-routes dial
wait_joined "$PUB" 30 || fail "seed S did not start"
start_peer "$NS1" node2 203.0.113.2 dial
start_peer "$NS2" node3 203.0.113.3 dial
start_peer "$NS3" node4 203.0.113.4 dial
for ns in "$NS1" "$NS2" "$NS3"; do wait_joined "$ns" 60 || fail "public peer in $ns did not join"; done
ok "seed S and public peers P1, P2, P3 joined (--response-routes dial)"

declare -A NSOF NAMEOF
for ns in "$PUB" "$NS1" "$NS2" "$NS3"; do
	id=$(status "$ns" | jq -r .node_id)
	NSOF[$id]=$ns
done
NAMEOF[$PUB]=S NAMEOF[$NS1]=P1 NAMEOF[$NS2]=P2 NAMEOF[$NS3]=P3
IDS=$(status "$PUB" | jq -r .node_id)
rlinks() { status "$NSA" | jq -r '.links[].node_id' | sort -u; }

t0=$(now_ms)
start_node "$NSA" node5 --client --listen 10.0.1.2:6084 --bootstrap 203.0.113.1:6084
wait_joined "$NSA" 60 || fail "R did not join through the NAT"
tj=$(($(now_ms) - t0))
# R's links settle: the bootstrap link to S, and the Attach to its
# responsible peer when that is another peer.
sleep 3
linked=$(rlinks)
ok "client R (10.0.1.2 behind port-restricted NAT 203.0.113.10) joined in $tj ms"
IDR=$(status "$NSA" | jq -r .node_id)
echo "    R's links: $(for id in $linked; do printf '%s ' "${NAMEOF[${NSOF[$id]:-}]:-$id}"; done)"
grep -qx "$IDS" <<<"$linked" || fail "R has no link to S, its bootstrap (relay) peer"
FAR=
for ns in "$NS1" "$NS2" "$NS3"; do
	id=$(status "$ns" | jq -r .node_id)
	grep -qx "$id" <<<"$linked" || { FAR=$id; break; }
done
[ -n "$FAR" ] || fail "R has links to every public peer: no peer is out of its reach"
NSF=${NSOF[$FAR]}
NF=${NAMEOF[$NSF]}
ok "far peer F = $NF ($FAR), not linked to R; relay peer S ($IDS)"

metric() { # metric NS NAME{LABELS}: its value (0 when absent)
	x "$1" curl -fsS http://127.0.0.1:9100/metrics | awk -v m="$2" '$1 == m { v = $2 } END { print v + 0 }'
}
routes() { # routes NS: "direct relayed fallback dial_failed refused"
	local ns=$1
	echo "$(metric "$ns" 'reload_response_route_answers_total{route="direct"}')" \
		"$(metric "$ns" 'reload_response_route_answers_total{route="relayed"}')" \
		"$(metric "$ns" 'reload_response_route_answers_total{route="fallback"}')" \
		"$(metric "$ns" 'reload_response_route_refused_total{reason="dial_failed"}')" \
		"$(metric "$ns" 'reload_response_route_refused_total{reason="refused"}')"
}
fwd() { # the messages each peer but F forwarded, "S=n P1=n ..."
	local ns
	for ns in "$PUB" "$NS1" "$NS2" "$NS3"; do
		[ "$ns" = "$NSF" ] || printf '%s=%s ' "${NAMEOF[$ns]}" "$(metric "$ns" reload_messages_forwarded_total)"
	done
}
fwdiff() { # fwdiff BEFORE AFTER: the peers that forwarded, with counts
	local a b out=
	for b in $2; do
		for a in $1; do
			[ "${a%%=*}" = "${b%%=*}" ] || continue
			[ "${b#*=}" = "${a#*=}" ] || out+="${b%%=*}:$((${b#*=} - ${a#*=})),"
		done
	done
	echo "${out%,}"
}
hops() { echo "$(metric "$NSA" reload_answer_hops_sum) $(metric "$NSA" reload_answer_hops_count)"; }

RESULTS=()
# run MODE POLICY: PINGS pings R -> F by MODE; checks every one is
# answered and prints the figures.
run() {
	local mode=$1 policy=$2 out n c med hs0 hc0 hs1 hc1 d0 r0 f0 df0 rf0 d1 r1 f1 df1 rf1 fw0 fw1
	read -r hs0 hc0 <<<"$(hops)"
	read -r d0 r0 f0 df0 rf0 <<<"$(routes "$NSF")"
	fw0=$(fwd)
	out=$(x "$NSA" "$R" ping --json --route "$mode" -c "$PINGS" "$FAR" 2>"$WORK/ping-$mode-$policy.err" || true)
	echo "$out" >"$WORK/ping-$mode-$policy.json"
	read -r hs1 hc1 <<<"$(hops)"
	read -r d1 r1 f1 df1 rf1 <<<"$(routes "$NSF")"
	fw1=$(fwd)
	c=$(jq -s 'length' <<<"$out")
	[ "$c" = "$PINGS" ] || fail "$mode ($NF $policy): only $c of $PINGS pings answered: $(head -c 400 "$WORK/ping-$mode-$policy.err")"
	jq -se --arg f "$FAR" 'all(.from == $f)' <<<"$out" >/dev/null || fail "$mode: an answer not from F"
	med=$(jq -s '[.[].rtt_ms] | sort | .[(length - 1) / 2 | floor] * 100 | round / 100' <<<"$out")
	local nh=$((hc1 - hc0)) h
	h=$(awk -v s="$((hs1 - hs0))" -v n="$nh" 'BEGIN { if (n > 0) printf "%.2f", s / n; else print "?" }')
	local how="direct=$((d1 - d0)) relayed=$((r1 - r0)) fallback=$((f1 - f0)) dial_failed=$((df1 - df0)) refused=$((rf1 - rf0))"
	ok "$mode ($NF --response-routes $policy): $c/$PINGS answered, answer hops $h, median RTT $med ms; F sent: $how; forwarded by $(fwdiff "$fw0" "$fw1")"
	RESULTS+=("$mode/$policy hops=$h rtt_ms=$med $how forwarded_by=$(fwdiff "$fw0" "$fw1")")
	LAST="$((d1 - d0)) $((r1 - r0)) $((f1 - f0)) $((df1 - df0))"
}

run srr dial
run drr dial
read -r d r f df <<<"$LAST"
[ "$d" = 0 ] || fail "drr: F answered R directly ($d), through a NAT that forwards nothing"
[ "$f" -ge 1 ] || fail "drr: F did not fall back to symmetric routing"
run rpr dial
read -r d r f df <<<"$LAST"
[ "$r" -ge 1 ] || fail "rpr: F relayed no answer through S"

# The same with F restarted as --response-routes linked.
for pid in $(ip netns pids "$NSF"); do kill "$pid" 2>/dev/null || true; done
while [ -n "$(ip netns pids "$NSF")" ]; do sleep 0.1; done
i=$((${NF#P} + 1))
start_peer "$NSF" "node$i" "203.0.113.$i" linked
wait_joined "$NSF" 60 || fail "F did not rejoin"
sleep 2
grep -qx "$FAR" <<<"$(rlinks)" && fail "R linked to F after F's restart: not a far peer any more"
run drr linked
read -r d r f df <<<"$LAST"
[ "$d" = 0 ] && [ "$df" = 0 ] || fail "drr linked: F sent direct or dialled R's address"
run rpr linked

echo "    NAT A dropped $(($(count "$NATA" filter input) + $(count "$NATA" filter forward))) unsolicited packets"
for r in "${RESULTS[@]}"; do echo "RESULT $r"; done
echo "all $checks checks passed"
