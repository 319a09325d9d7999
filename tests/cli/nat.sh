# nat.sh - NATs in network namespaces, for p2pnat.bats. Sourced by a script
# that runs in a namespace of its own (`unshare --net`): that namespace is
# "the Internet", a bridge 10.9.0.1/24 where rvserver listens. `site I KIND`
# adds a NAT router namespace (10.9.0.(10+I) outside, 192.168.I.1 inside)
# and a host namespace (192.168.I.2, its default route through the router).
# KIND: cone (Linux masquerade: it keeps the source port, and lets in only
# what answers a mapping, from where the mapping went) or symmetric (a new
# random port for each destination); neither answers anything new from
# outside. Namespaces are held by sleep processes
# (NS_PIDS): killing them, as the EXIT trap below does, leaves nothing.
# `in_ns PID CMD...` runs CMD in the namespace held by PID.
set -e
NS_PIDS=()
trap 'kill "${NS_PIDS[@]}" 2>/dev/null || true' EXIT

mkns() {	# a namespace held by a sleep, its PID in NS
	unshare --net sleep 3600 >/dev/null 2>&1 </dev/null &
	NS=$!
	NS_PIDS+=("$NS")
	local t
	for ((t = 0; t < 100; t++)); do	# until unshare has made it
		[ "$(readlink "/proc/$NS/ns/net")" != "$(readlink /proc/self/ns/net)" ] && return 0
		sleep 0.02
	done
	echo "nat.sh: no namespace for $NS" >&2
	return 1
}

in_ns() {
	local pid=$1
	shift
	nsenter --net="/proc/$pid/ns/net" "$@"
}

ip link set lo up
ip link add br0 type bridge
ip addr add 10.9.0.1/24 dev br0
ip link set br0 up

site() {	# site I KIND: sets ROUTER_I and HOST_I
	local i=$1 kind=$2 r h opt=''
	mkns
	r=$NS
	mkns
	h=$NS
	ip link add "up$i" type veth peer name "wan$i"
	ip link set "up$i" master br0 up
	ip link set "wan$i" netns "$r"
	ip link add "lan$i" type veth peer name "eth$i"
	ip link set "lan$i" netns "$r"
	ip link set "eth$i" netns "$h"
	in_ns "$r" ip link set lo up
	in_ns "$r" ip addr add "10.9.0.$((10 + i))/24" dev "wan$i"
	in_ns "$r" ip link set "wan$i" up
	in_ns "$r" ip addr add "192.168.$i.1/24" dev "lan$i"
	in_ns "$r" ip link set "lan$i" up
	in_ns "$r" sysctl -qw net.ipv4.ip_forward=1
	[ "$kind" = symmetric ] && opt=' random'
	# as a home router: nothing new comes in from outside. (Dropped before
	# conntrack confirms it, an unsolicited datagram leaves no entry that
	# would make the router map the host's next datagram there to a new port.)
	in_ns "$r" nft -f - <<-NFT
		table ip nat {
			chain post { type nat hook postrouting priority srcnat; oifname "wan$i" masquerade$opt; }
		}
		table ip filter {
			chain input { type filter hook input priority filter; iifname "wan$i" ct state new drop; }
			chain forward { type filter hook forward priority filter; iifname "wan$i" ct state new drop; }
		}
	NFT
	in_ns "$h" ip link set lo up
	in_ns "$h" ip addr add "192.168.$i.2/24" dev "eth$i"
	in_ns "$h" ip link set "eth$i" up
	in_ns "$h" ip route add default via "192.168.$i.1"
	eval "ROUTER_$i=$r HOST_$i=$h"
}
