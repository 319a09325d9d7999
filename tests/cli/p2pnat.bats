#!/usr/bin/env bats
# Peer groups across real NATs, made by the test in network namespaces of its
# own (tests/cli/nat.sh: Linux masquerade, nftables): rvserver's
# introduction punches through NATs that keep the source port, and its
# relay carries the peers whose NATs map each destination to a new port.

load helpers

@test "p2p across NATs: behind port-keeping NATs peers reach each other straight; behind symmetric NATs through rvserver's relay; a post reaches all" {
	unshare --net true 2>/dev/null || skip "needs unshare --net (root)"
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	SPEC=$(rvgroup p2p spec new nat.example --key "$T/owner.key" 2>/dev/null)
	cat >"$T/nat-run.sh" <<-'EOF2'
		. "$NAT_SH"
		site 1 cone
		site 2 cone
		site 3 symmetric
		site 4 symmetric
		cd "$T"
		life=$((60 * RV_SLOW))
		timeout -k 1 "$life" rvserver -l 10.9.0.1 -p 0 --port-file srv.port 2>srv.err &
		srv=$!
		for ((t = 0; t < 100 * RV_SLOW; t++)); do
			[ -f srv.port ] && [ "$(wc -l <srv.port)" -ge 2 ] && break
			sleep 0.05
		done
		peers=()
		udp=$(sed -n 2p srv.port)
		for i in 1 2 3 4; do
			mkfifo "p$i.in"
			in_ns "$(eval echo "\$HOST_$i")" timeout -k 1 "$life" rvgroup p2p join "$SPEC" --json --key "p$i.key" \
				--server "10.9.0.1:$udp" --bind 0.0.0.0:0 <"p$i.in" >"p$i.out" 2>"p$i.err" &
			peers+=($!)
			eval "exec {fd$i}>p$i.in"
		done
		# each sees the three others (a relayed session starts 5 s after a silent one)
		for ((t = 0; t < 300 * RV_SLOW; t++)); do
			ok=1
			for i in 1 2 3 4; do
				[ "$(grep -c '"NetGroup.Neighbor.Connect"' "p$i.out")" -ge 3 ] || ok=0
			done
			((ok)) && break
			sleep 0.1
		done
		echo "hello through the NATs" >&"$fd1"
		for ((t = 0; t < 100 * RV_SLOW; t++)); do
			[ "$(cat p2.out p3.out p4.out | grep -c 'hello through the NATs')" -ge 3 ] && break
			sleep 0.1
		done
		curl -sf "http://10.9.0.1:$(head -1 srv.port)/metrics" >metrics || true
		exec {fd1}>&- {fd2}>&- {fd3}>&- {fd4}>&-
		wait "${peers[@]}" || true	# they leave at the end of their input
		kill "$srv"
		wait "$srv" || true
	EOF2
	T=$T SPEC=$SPEC NAT_SH="$BATS_TEST_DIRNAME/nat.sh" PATH=$PATH run timeout "$(secs 90)" unshare --net bash "$T/nat-run.sh"
	assert_success
	local i id
	declare -A ids
	for i in 1 2 3 4; do
		ids[$i]=$(rvgroup p2p id --key "$T/p$i.key")
	done
	# connect ID: peer 1's Connect event for the peer ID ("relayed addr")
	connect() { jq -r --arg p "$2" 'select(.code == "NetGroup.Neighbor.Connect" and .peer == $p) | "\(.relayed) \(.addr)"' "$T/p$1.out" | head -1; }
	# 1 and 2: straight, each at the other's NAT's outside address
	[[ $(connect 1 "${ids[2]}") =~ ^false\ 10\.9\.0\.12: ]] || fail "1 to 2: '$(connect 1 "${ids[2]}")'; $(cat "$T/p1.out")"
	[[ $(connect 2 "${ids[1]}") =~ ^false\ 10\.9\.0\.11: ]] || fail "2 to 1: '$(connect 2 "${ids[1]}")'"
	# 3 and 4 cannot be reached straight by anyone: relayed
	for i in 1 2 4; do
		[[ $(connect "$i" "${ids[3]}") == true\ * ]] || fail "$i to 3: '$(connect "$i" "${ids[3]}")'"
	done
	[[ $(connect 3 "${ids[4]}") == true\ * ]] || fail "3 to 4: '$(connect 3 "${ids[4]}")'"
	for i in 2 3 4; do
		grep -q '"NetGroup.Posting.Notify".*"hello through the NATs"' "$T/p$i.out" || fail "peer $i got no post: $(cat "$T/p$i.out")"
	done
	# rvserver relayed bytes for 3 and 4, and introduced all four
	grep -qx 'rvserver_p2p_joins_total 4' "$T/metrics"
	(($(awk '$1 == "rvserver_p2p_relayed_total" { print $2 }' "$T/metrics") > 0))
}
