#!/usr/bin/env bats
# rvserver's peer-group introducer on its UDP port (lib/p2pintro.h): peers
# (tests/cli/p2pintro.py, one loopback UDP socket each) JOIN a group, are
# answered 401 with a cookie no larger than the JOIN, JOIN again with it and
# get their reflexive address and the members before them; a stranger that
# never answers the 401 is never a member; the members get INTROs, a RELAY
# reaches its target, /metrics counts it all; --no-p2p answers 403,
# --p2p-max-members 508, --p2p-relay-budget 0 relays nothing.

load helpers

# peers [N]: the peers' JSON lines into $T/peers.json
peers() {
	timeout "$(secs 30)" python3 "$BATS_TEST_DIRNAME/p2pintro.py" "$SERVER_UDP_PORT" "$@" >"$T/peers.json"
}

metric() { timeout 5 curl -sf "http://$RV_SERVER/metrics" | awk -v m="rvserver_p2p_$1" '$1 == m { print $2 }'; }

# answer P: peer P's answer to its JOIN
answer() { jq -s -c --argjson p "$1" 'map(select(.peer == $p and .class))[0]' "$T/peers.json"; }
# intros P: the INTROs peer P got
intros() { jq -s -c --argjson p "$1" 'map(select(.peer == $p and .intros))[0].intros' "$T/peers.json"; }
relayed() { jq -s -c 'map(select(has("relayed")))[0].relayed' "$T/peers.json"; }

@test "p2pintro: three peers join over UDP, each gets its mapped address and the members before it; INTROs, RELAY, LEAVE, /metrics" {
	start_server
	peers 3
	local p
	for p in 0 1 2; do
		answer "$p" | jq -e --argjson p "$p" '.class == "success" and .lifetime == 60
			and .mapped == "127.0.0.1:\(.port)" and (.members | length) == $p
			and .challenge.code == 401 and .challenge.cookie and .challenge.size <= .challenge.request'
	done
	# the stranger (as a forged source address) got only a small 401, and is nobody's member
	jq -s -e 'map(select(.stranger))[0].stranger | .code == 401 and .cookie and .size <= .request' "$T/peers.json"
	answer 2 | jq -e '[.members[].id] | index("'"$(printf stranger | sha256sum | cut -c1-64)"'") == null' 
	# peer 2 was given peers 0 and 1 at their addresses, never itself
	local a0 a1
	a0=127.0.0.1:$(answer 0 | jq .port)
	a1=127.0.0.1:$(answer 1 | jq .port)
	answer 2 | jq -e --arg a0 "$a0" --arg a1 "$a1" '(.members | map(.addr) | sort) == ([$a0, $a1] | sort)'
	# the members were told of each newcomer: peer 0 of 1 and 2, peer 1 of 2, peer 2 of nobody
	intros 0 | jq -e --arg a1 "$a1" 'length == 2 and .[0].addr == $a1'
	intros 1 | jq -e 'length == 1'
	intros 2 | jq -e 'length == 0'
	relayed | jq -e --arg a0 "$a0" '.data == "hello" and .from.addr == $a0'
	local deadline=$(($(date +%s) + 5))
	until [ "$(metric leaves_total)" = 1 ]; do
		(($(date +%s) < deadline)) || fail "LEAVE not counted"
		sleep 0.1
	done
	assert_equal "$(metric joins_total)" 3
	assert_equal "$(metric challenges_total)" 4	# the stranger's and each peer's first JOIN
	assert_equal "$(metric intros_total)" 3
	assert_equal "$(metric relayed_total)" 1
	assert_equal "$(metric relayed_bytes_total)" 5
	assert_equal "$(metric groups)" 1
	assert_equal "$(metric members)" 2
	assert_equal "$(stat_of p2p.joins)" 3
}

@test "p2pintro: --no-p2p answers a JOIN with 403 and registers nobody" {
	start_server --no-p2p
	peers 1
	answer 0 | jq -e '.class == "error" and .code == 403 and .reason == "Forbidden"'
	relayed | jq -e '. == null'
	assert_equal "$(metric refused_disabled_total)" 3	# two JOINs (the stranger's too) and the RELAY
	assert_equal "$(metric members)" 0
}

@test "p2pintro: --p2p-relay-budget 0 relays nothing; --p2p-max-members 2 refuses the third with 508" {
	start_server --p2p-max-members 2 --p2p-relay-budget 0
	peers 2 one
	answer 1 | jq -e '.class == "success" and (.members | length) == 1'
	relayed | jq -e '. == null'
	assert_equal "$(metric relay_drops_total)" 1
	assert_equal "$(metric relayed_total)" 0
	peers 3 two
	answer 1 | jq -e '.class == "success"'
	answer 2 | jq -e '.class == "error" and .code == 508 and .reason == "Insufficient Capacity"'
	assert_equal "$(metric refused_capacity_total)" 1
	assert_equal "$(metric groups)" 2
}

@test "p2pintro: rvserver --help lists the peer-group options" {
	run rvserver --help
	assert_success
	assert_output --partial '--no-p2p'
	assert_output --partial '--p2p-max-members N'
	assert_output --partial '--p2p-relay-budget BYTES'
}
