#!/usr/bin/env python3
"""p2pintro.py - a tiny peer of rvserver's peer-group introducer (lib/p2pintro.h),
for tests: a stranger JOINs and never answers the server's 401 (as a JOIN with
a forged source address cannot), then PEERS loopback UDP sockets each JOIN one
group in turn (answering the 401 with its COOKIE), then peer 0 RELAYs "hello"
to the last peer and peer 1 LEAVEs. One JSON object per line:

  {"stranger":{"code":C,"cookie":B,"size":N,"request":M}}   the stranger's answer
  {"peer":I,"port":P,"class":"success"|"error","code":C,"mapped":"IP:PORT",
   "lifetime":S,"members":[{"id":HEX,"addr":"IP:PORT"}],
   "challenge":{"code":C,"cookie":B,"size":N,"request":M}}  each JOIN's answer
   (challenge: the answer to the JOIN without a cookie, when it was a 401)
  {"peer":I,"intros":[{"id":HEX,"addr":"IP:PORT"}]}         INTROs each peer got
  {"peer":I,"relayed":{"from":{"id":HEX,"addr":..},"data":"hello"}|null}   the last peer

Usage: p2pintro.py UDP_PORT [PEERS [GROUP]]   (PEERS 3, GROUP "test group": its hash
is the group's; every wait is bounded: 2 s a message)
"""
import hashlib, json, os, socket, struct, sys, zlib

MAGIC = 0x2112A442
JOIN, INTRO, RELAY, LEAVE = 0x0C0, 0x0C1, 0x0C2, 0x0C3
A_GROUP, A_PEER_ID, A_MEMBER, A_LIFETIME, A_DATA, A_COOKIE = 0xC001, 0xC002, 0xC003, 0xC004, 0xC005, 0xC006
A_XOR_MAPPED, A_ERROR, A_FINGERPRINT = 0x0020, 0x0009, 0x8028


def stun_type(method, cls):
    return (method & 0xF) | (method & 0x70) << 1 | (method & 0xF80) << 2 | (cls & 1) << 4 | (cls & 2) << 7


def attr(t, v):
    return struct.pack('!HH', t, len(v)) + v + b'\0' * (-len(v) % 4)


def message(method, cls, attrs):
    body = b''.join(attr(t, v) for t, v in attrs)
    head = struct.pack('!HHI', stun_type(method, cls), len(body) + 8, MAGIC) + os.urandom(12)
    crc = (zlib.crc32(head + body) ^ 0x5354554E) & 0xFFFFFFFF
    return head + body + attr(A_FINGERPRINT, struct.pack('!I', crc))


def member_attr(pid, addr):
    ip, port = addr
    return pid + bytes([4]) + struct.pack('!H', port) + socket.inet_aton(ip)


def parse(msg):
    t, length, magic = struct.unpack('!HHI', msg[:8])
    assert magic == MAGIC and len(msg) == 20 + length
    method = (t & 0xF) | (t & 0xE0) >> 1 | (t & 0x3E00) >> 2
    cls = (t >> 4 & 1) | (t >> 7 & 2)
    attrs, off = [], 20
    while off < len(msg):
        at, al = struct.unpack('!HH', msg[off:off + 4])
        attrs.append((at, msg[off + 4:off + 4 + al]))
        off += 4 + al + (-al % 4)
    assert attrs[-1][0] == A_FINGERPRINT
    crc = (zlib.crc32(msg[:off - 8]) ^ 0x5354554E) & 0xFFFFFFFF
    assert struct.unpack('!I', attrs[-1][1])[0] == crc, 'bad FINGERPRINT'
    return method, cls, attrs, msg[8:20]


def member(v):
    fam, port = v[32], struct.unpack('!H', v[33:35])[0]
    ip = socket.inet_ntop(socket.AF_INET if fam == 4 else socket.AF_INET6, v[35:])
    return {'id': v[:32].hex(), 'addr': '%s:%d' % (ip, port)}


def xor_mapped(v, tid):
    port = struct.unpack('!H', v[2:4])[0] ^ (MAGIC >> 16)
    key = struct.pack('!I', MAGIC) + tid
    ip = bytes(a ^ b for a, b in zip(v[4:], key))
    return '%s:%d' % (socket.inet_ntop(socket.AF_INET if v[1] == 1 else socket.AF_INET6, ip), port)


def answer(i, sock, msg):
    method, cls, attrs, tid = parse(msg)
    assert method == JOIN and cls in (2, 3), (method, cls)
    out = {'peer': i, 'port': sock.getsockname()[1], 'class': 'success' if cls == 2 else 'error'}
    for t, v in attrs:
        if t == A_ERROR:
            out['code'] = v[2] * 100 + v[3]
            out['reason'] = v[4:].decode()
        elif t == A_XOR_MAPPED:
            out['mapped'] = xor_mapped(v, tid)
        elif t == A_LIFETIME:
            out['lifetime'] = struct.unpack('!I', v)[0]
    out['members'] = [member(v) for t, v in attrs if t == A_MEMBER]
    return out


def join(sock, server, group, pid):
    """JOIN, then again with the COOKIE of a 401: the last answer, and the
    401 (its code, whether it had a cookie, its size and the JOIN's) if any."""
    request = message(JOIN, 0, [(A_GROUP, group), (A_PEER_ID, pid)])
    sock.sendto(request, server)
    sock.settimeout(2)
    msg = sock.recv(4096)
    method, cls, attrs, tid = parse(msg)
    cookie = [v for t, v in attrs if t == A_COOKIE]
    code = [v[2] * 100 + v[3] for t, v in attrs if t == A_ERROR]
    if cls != 3 or code != [401]:
        return msg, None
    challenge = {'code': 401, 'cookie': len(cookie) == 1 and len(cookie[0]) == 20, 'size': len(msg),
                 'request': len(request)}
    sock.sendto(message(JOIN, 0, [(A_GROUP, group), (A_PEER_ID, pid), (A_COOKIE, cookie[0])]), server)
    return sock.recv(4096), challenge


def receive(sock, want):
    """The next message of method WANT, or None after 2 s of nothing."""
    sock.settimeout(2)
    try:
        while True:
            method, cls, attrs, tid = parse(sock.recv(4096))
            if method == want:
                return attrs
    except socket.timeout:
        return None


def main():
    port, peers = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3
    server = ('127.0.0.1', port)
    group = hashlib.sha256(sys.argv[3].encode() if len(sys.argv) > 3 else b'test group').digest()
    socks, ids = [], []
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(('127.0.0.1', 0))
    request = message(JOIN, 0, [(A_GROUP, group), (A_PEER_ID, hashlib.sha256(b'stranger').digest())])
    stranger.sendto(request, server)
    stranger.settimeout(2)
    msg = stranger.recv(4096)
    attrs = parse(msg)[2]
    print(json.dumps({'stranger': {'code': [v[2] * 100 + v[3] for t, v in attrs if t == A_ERROR][0],
                                   'cookie': any(t == A_COOKIE for t, v in attrs), 'size': len(msg),
                                   'request': len(request)}}), flush=True)
    for i in range(peers):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(('127.0.0.1', 0))
        socks.append(s)
        ids.append(hashlib.sha256(b'peer %d' % i).digest())
        msg, challenge = join(s, server, group, ids[i])
        out = answer(i, s, msg)
        if challenge:
            out['challenge'] = challenge
        print(json.dumps(out), flush=True)
    for i, s in enumerate(socks):
        intros = []
        s.settimeout(0.3)
        try:
            while True:
                method, cls, attrs, tid = parse(s.recv(4096))
                if method == INTRO:
                    intros += [member(v) for t, v in attrs if t == A_MEMBER]
        except socket.timeout:
            pass
        print(json.dumps({'peer': i, 'intros': intros}), flush=True)
    last = peers - 1
    socks[0].sendto(message(RELAY, 1, [(A_GROUP, group), (A_MEMBER, member_attr(bytes(32), socks[last].getsockname())),
                                       (A_DATA, b'hello')]), server)
    attrs = receive(socks[last], RELAY)
    relayed = None
    if attrs:
        relayed = {'from': [member(v) for t, v in attrs if t == A_MEMBER][0],
                   'data': [v for t, v in attrs if t == A_DATA][0].decode()}
    print(json.dumps({'peer': last, 'relayed': relayed}), flush=True)
    if peers > 1:
        socks[1].sendto(message(LEAVE, 1, [(A_GROUP, group), (A_PEER_ID, ids[1])]), server)


main()
