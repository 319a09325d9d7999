# turn_helpers.bash - coturn and UDP peers on 127.0.0.1 for tests/cli/rvturn.bats.
# Load after helpers.bash (it uses spawn, stop_pid, secs and $T).
#
#   free_port                  a port free for both TCP and UDP on 127.0.0.1
#   start_turn NAME [ARG...]   coturn (turnserver) on free ports, long-term credentials
#                              alice:s3cret in realm rvkit.test unless ARG says otherwise;
#                              TURN_TLS=1 also opens a TLS port with $T/cert.pem.
#                              Exports TURN_PORT, TURN_TLS_PORT, TURN_LOG, TURN_PID,
#                              and URI=turn:127.0.0.1:$TURN_PORT
#   echo_peer NAME             a UDP echo (socat) on a free port: ECHO_PORT
#   silent_udp NAME            a bound UDP socket that never answers: SILENT_PORT
#                              (it logs "datagram TYPE LEN" to $T/NAME.out for each it
#                              reads, TYPE its first two bytes in hex: the STUN type)
#   closed_udp_port            a UDP port on 127.0.0.1 just bound and closed: nothing
#                              listens there, so datagrams to it get ICMP port unreachable
#   start_session NAME ARG...  rvturn session ARG..., stdin from a FIFO (write with
#                              `to NAME LINE`, close with `close_input NAME`)
#   make_cert                  $T/cert.pem and $T/key.pem, self-signed for 127.0.0.1 and localhost

TURN_USER=alice
TURN_PASS=s3cret

# Port 0 gives a free TCP port; keep it only if UDP is free on it too.
free_port() {
	python3 - <<'EOF'
import socket
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    u.close()
    t.close()
    print(port)
    break
else:
    raise SystemExit("no free port")
EOF
}

make_cert() {
	[ -f "$T/cert.pem" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$T/key.pem" -out "$T/cert.pem" -subj /CN=localhost \
		-addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null
}

# Does coturn answer a Binding at URI (with ARG...)?
_turn_answers() {
	timeout 5 rvturn -q --timeout 1 binding "$@" >/dev/null 2>&1
}

# start_turn NAME [ARG...]: without any credential option among ARG, coturn gets
# --lt-cred-mech --user=alice:s3cret --realm=rvkit.test --allow-loopback-peers.
# Retries with new ports when coturn could not bind the ones picked.
start_turn() {
	local name=$1 try port tport deadline ok
	shift
	local extra=("$@") auth=(--lt-cred-mech "--user=$TURN_USER:$TURN_PASS" --realm=rvkit.test --allow-loopback-peers)
	case " $* " in
	*" --use-auth-secret "* | *" --lt-cred-mech "*) auth=() ;;
	esac
	local tls=(--no-tls)
	for ((try = 0; try < 3; try++)); do
		port=$(free_port)
		tport=
		if [ -n "${TURN_TLS:-}" ]; then
			make_cert
			tport=$(free_port)
			tls=("--tls-listening-port=$tport" "--cert=$T/cert.pem" "--pkey=$T/key.pem")
		fi
		spawn "$name" turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 \
			"--listening-port=$port" "${tls[@]}" --no-dtls --no-cli --no-rfc5780 \
			"--pidfile=$T/$name.pid" --log-file=stdout --simple-log "${auth[@]}" "${extra[@]}"
		TURN_PID=$(eval echo "\$PID_$name")
		TURN_LOG="$T/$name.out"
		# ready when it answers a Binding on UDP and TCP (and TLS), bounded
		deadline=$(($(date +%s) + 5 * RV_SLOW))
		ok=
		while (($(date +%s) < deadline)) && alive "$TURN_PID"; do
			if grep -qE 'Cannot bind|errno=98' "$TURN_LOG" 2>/dev/null; then
				break
			fi
			if _turn_answers "stun:127.0.0.1:$port" && _turn_answers -T tcp "stun:127.0.0.1:$port" &&
				{ [ -z "$tport" ] || _turn_answers --insecure "stuns:127.0.0.1:$tport"; }; then
				ok=1
				break
			fi
			sleep 0.1
		done
		if [ -n "$ok" ] && ! grep -qE 'Cannot bind|errno=98' "$TURN_LOG"; then
			TURN_PORT=$port TURN_TLS_PORT=$tport URI="turn:127.0.0.1:$port"
			export TURN_PORT TURN_TLS_PORT TURN_LOG TURN_PID URI
			return 0
		fi
		stop_pid "$TURN_PID"
	done
	echo "# coturn did not come up; its log:" >&2
	sed 's/^/#   /' "$TURN_LOG" | tail -30 >&2
	return 1
}

# echo_peer NAME: a UDP echo on 127.0.0.1:$ECHO_PORT (each sender gets its bytes back).
echo_peer() {
	local name=$1 try
	for ((try = 0; try < 3; try++)); do
		ECHO_PORT=$(free_port)
		spawn "$name" socat "UDP-RECVFROM:$ECHO_PORT,bind=127.0.0.1,fork" EXEC:cat
		local deadline=$(($(date +%s) + 3 * RV_SLOW))
		while (($(date +%s) < deadline)) && alive "$(eval echo "\$PID_$name")"; do
			if ss -Hlun "sport = :$ECHO_PORT" 2>/dev/null | grep -q .; then
				export ECHO_PORT
				return 0
			fi
			sleep 0.05
		done
	done
	echo "# the echo peer did not start" >&2
	return 1
}

# silent_udp NAME: a bound UDP socket that never answers (silence, not the ICMP
# port unreachable of a closed port); it logs each datagram it reads.
silent_udp() {
	local name=$1
	SILENT_PORT=$(free_port)
	spawn "$name" python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', $SILENT_PORT))
s.settimeout(1)
print('bound', flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        d = s.recv(65536)
        print('datagram %04x %d' % (int.from_bytes(d[:2], 'big'), len(d)), flush=True)
    except socket.timeout:
        pass"
	wait_for_line "$T/$name.out" '^bound$' 5
	export SILENT_PORT
}

# closed_udp_port: a port that was free on 127.0.0.1 and is closed again.
closed_udp_port() {
	python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
print(s.getsockname()[1])
s.close()"
}

# start_session NAME ARG...: rvturn session ARG... reading a FIFO.
start_session() {
	local name=$1 fd
	shift
	mkfifo "$T/$name.in"
	( _close_inherited; exec timeout -k 2 "$RV_LIFETIME" rvturn session "$@" ) \
		<"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" 3>&- &
	eval "PID_$name=$!"
	PIDS+=("$!")
	exec {fd}>"$T/$name.in"
	INFD[$name]=$fd
}

# Bounded rvturn in the foreground, with alice's password in the environment.
rvt() { RV_TURN_PASSWORD=$TURN_PASS timeout "$(secs 30)" rvturn "$@"; }
