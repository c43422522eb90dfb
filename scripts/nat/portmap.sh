#!/usr/bin/env bash
# Port mapping as a source of ICE candidates: peer A behind a NAT that runs
# miniupnpd (UPnP IGD and NAT-PMP, nftables backend), peer B behind a
# symmetric NAT. Run through scripts/netns-nat.sh portmap.
#
#   ns pub  br0 203.0.113.1/24 and 11.0.0.1/24: seed peer (TLS 203.0.113.1:6084)
#    |-- ns nata  wan 11.0.0.10    | lan 10.0.1.1/24 -- ns a  10.0.1.2 (peer A)
#    |            miniupnpd on lan; inbound only through its mappings
#    `-- ns natb  wan 203.0.113.20 | lan 10.0.2.1/24 -- ns b  10.0.2.2 (peer B)
#                 symmetric (random port per flow), replies only
#
# Neither NAT lets in a new flow of its own accord, so A and B have no
# direct path, except through the port A's gateway maps for it: A runs
# with --portmap, gets a mapping, offers it as a srflx candidate, and B's
# checks reach A through it: first with NAT-PMP, then with miniupnpd's
# NAT-PMP off, by UPnP IGD (SSDP, WANIPConnection). A control run without
# --portmap must not link (NAT_CONTROL_S seconds, default 10). About 45 s.
# Needs root, iproute2, nftables, jq, miniupnpd. Exits 0, 1, or 77.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
	echo "netns-nat portmap: needs root" >&2
	exit 77
fi
for c in ip nft jq miniupnpd; do
	command -v "$c" >/dev/null 2>&1 || { echo "netns-nat portmap: $c is missing (run scripts/netns-nat.sh portmap once to install it)" >&2; exit 1; }
done

. scripts/nat/lib.sh
netns_setup "netns-nat portmap" rlp

ip -n "$PUB" link add br0 type bridge
ip -n "$PUB" addr add 203.0.113.1/24 dev br0
ip -n "$PUB" link set br0 up
# miniupnpd refuses to map behind a reserved external address (such as
# the documentation range 203.0.113.0/24), so NAT A's public side is on a
# second, ordinary prefix of the same bridge, routed by pub.
ip -n "$PUB" addr add 11.0.0.1/24 dev br0
x "$PUB" sysctl -qw net.ipv4.ip_forward=1

natrouter "$NATA" 11.0.0.10 10.0.1 "$NSA" pa 11.0.0.1
natrouter "$NATB" 203.0.113.20 10.0.2 "$NSB" pb

# NAT A: the table and chains miniupnpd's nftables backend fills (its
# defaults, as its nft_init.sh makes them: table inet filter, chains
# miniupnpd, prerouting_miniupnpd and postrouting_miniupnpd); nothing
# else gets in.
x "$NATA" nft -f - <<'EOF'
table inet filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
		iifname "wan" jump miniupnpd
		counter
	}
	chain miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority dstnat;
		iifname "wan" jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority srcnat;
		oifname "wan" jump postrouting_miniupnpd
		oifname "wan" masquerade
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}
EOF
x "$NATB" nft -f - <<'EOF'
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "wan" masquerade fully-random
	}
}
table ip filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
	}
}
EOF
MINIUPNPD=
start_miniupnpd() { # start_miniupnpd NATPMP(yes|no): UPnP IGD always
	[ -z "$MINIUPNPD" ] || { kill "$MINIUPNPD"; wait "$MINIUPNPD" 2>/dev/null || true; }
	cat >"$WORK/miniupnpd.conf" <<EOF
ext_ifname=wan
listening_ip=lan
port=0
enable_natpmp=$1
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=3d3c2f3a-5f1c-4f4e-9b7e-0123456789ab
allow 1024-65535 10.0.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
	ip netns exec "$NATA" miniupnpd -d -f "$WORK/miniupnpd.conf" -P "$WORK/miniupnpd.pid" >>"$WORK/miniupnpd.log" 2>&1 &
	MINIUPNPD=$!
	PIDS+=($!)
	sleep 1
	kill -0 "$MINIUPNPD" 2>/dev/null || { cat "$WORK/miniupnpd.log" >&2; fail "miniupnpd did not start"; }
}
start_miniupnpd yes
ok "miniupnpd (UPnP IGD + NAT-PMP, nftables backend) runs on NAT A's LAN side"

build_overlay
start_node "$PUB" node1 --listen 203.0.113.1:6084 --seed --ice
wait_joined "$PUB" 30 || fail "seed did not start"

run() { # run PORTMAP(yes|no); without, B's join is not waited for
	local pm=()
	[ "$1" = yes ] && pm=(--portmap --metrics 127.0.0.1:9464)
	start_node "$NSA" node2 --listen 10.0.1.2:6084 --bootstrap 203.0.113.1:6084 --ice "${pm[@]}"
	wait_joined "$NSA" 60 || fail "A did not join"
	if [ "$1" = yes ]; then
		local end=$((SECONDS + 30))
		until [ -n "$(status "$NSA" | jq -r '.portmap.mapped // empty')" ]; do
			[ $SECONDS -lt $end ] || fail "A got no mapping: $(status "$NSA" | jq -c .portmap)"
			sleep 0.2
		done
	fi
	start_node "$NSB" node3 --listen 10.0.2.2:6084 --bootstrap 203.0.113.1:6084 --ice
	[ "$1" = no ] || wait_joined "$NSB" 60 || fail "B did not join"
}
link() { status "$1" | jq -c --arg p "$2" '.links[] | select(.node_id == $p)'; }
stop_ab() {
	for pid in $(ip netns pids "$NSA") $(ip netns pids "$NSB"); do kill "$pid" 2>/dev/null || true; done
	local end=$((SECONDS + 10))
	while [ -n "$(ip netns pids "$NSA")$(ip netns pids "$NSB")" ] && [ $SECONDS -lt $end ]; do sleep 0.2; done
}
mapped_rules() { x "$NATA" nft list chain inet filter prerouting_miniupnpd | grep -c dnat || true; }

# reached METHOD: A maps with METHOD, B reaches A through the mapping,
# and A removes the mapping when it stops.
reached() {
	run yes
	local pmj m
	pmj=$(status "$NSA" | jq -c .portmap)
	m=$(jq -r .mapped <<<"$pmj")
	[ "$(jq -r .method <<<"$pmj")" = "$1" ] || fail "A mapped with $(jq -r .method <<<"$pmj"), not $1"
	ok "A got a mapped candidate from its gateway by $1: $pmj"
	x "$NSA" curl -s http://127.0.0.1:9464/metrics | grep -q "^reload_portmap_mapped{mapped=\"$m\",method=\"$1\"} 1" ||
		fail "metric reload_portmap_mapped: $(x "$NSA" curl -s http://127.0.0.1:9464/metrics | grep portmap)"
	ok "metric: $(x "$NSA" curl -s http://127.0.0.1:9464/metrics | grep '^reload_portmap_mapped')"
	[ "$(mapped_rules)" -ge 1 ] || fail "miniupnpd holds no DNAT rule"
	IDA=$(status "$NSA" | jq -r .node_id)
	IDB=$(status "$NSB" | jq -r .node_id)
	local end=$((SECONDS + 60)) lb la
	until [ -n "$(link "$NSB" "$IDA")" ] && [ -n "$(link "$NSA" "$IDB")" ]; do
		[ $SECONDS -lt $end ] || fail "A and B have no link to each other"
		sleep 0.2
	done
	lb=$(link "$NSB" "$IDA")
	la=$(link "$NSA" "$IDB")
	echo "    B's link to A: $lb"
	echo "    A's link to B: $la"
	[ "$(jq -r .ice.remote <<<"$lb")" = "$m" ] || fail "B's ICE pair does not use A's mapped address $m"
	[ "$(jq -r .ice.local <<<"$la")" = "$m" ] || fail "A's ICE pair does not use its mapped address $m"
	ok "ICE selected the pair with A's mapped address: B $(jq -r '.ice.local_type + " " + .ice.local + " -> " + .ice.remote_type + " " + .ice.remote' <<<"$lb"); A $(jq -r '.ice.local_type + " " + .ice.local + " -> " + .ice.remote_type + " " + .ice.remote' <<<"$la")"
	local out c
	out=$(x "$NSB" "$R" ping -c 5 "$IDA" 2>&1 || true)
	c=$(grep -c 'time=' <<<"$out" || true)
	[ "$c" = 5 ] || fail "only $c of 5 pings B -> A answered: $out"
	ok "ping B -> A directly through the mapping: 5/5"
	{
		x "$NSB" "$R" store "node3@nat.example.org" SIP-REGISTRATION "mapped-$1" &&
			x "$NSA" "$R" fetch "node3@nat.example.org" SIP-REGISTRATION
	} >"$WORK/storefetch-$1.txt" 2>&1 && grep -q "mapped-$1" "$WORK/storefetch-$1.txt" || fail "store on B / fetch on A"
	ok "stored on B, fetched on A"
	stop_ab
	[ "$(mapped_rules)" = 0 ] || fail "the mapping was not removed on exit"
	ok "A removed its mapping on exit"
	MAPPED+=("$1=$m")
}
MAPPED=()
reached nat-pmp
# The same with UPnP IGD alone (SSDP discovery, WANIPConnection).
start_miniupnpd no
reached upnp

# Control: the same run without --portmap gives B no path to A.
run no
end=$((SECONDS + ${NAT_CONTROL_S:-10}))
while [ $SECONDS -lt $end ]; do
	if [ -n "$(link "$NSB" "$IDA" 2>/dev/null)" ] || [ -n "$(link "$NSA" "$IDB" 2>/dev/null)" ]; then
		fail "control: A and B linked without a port mapping"
	fi
	sleep 0.5
done
ok "control: without --portmap, A and B found no path to each other in ${NAT_CONTROL_S:-10} s (B joined: $(joined "$NSB" && echo yes || echo no))"
echo "RESULT ${MAPPED[*]}"
echo "all $checks checks passed"
