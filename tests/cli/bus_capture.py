#!/usr/bin/env python3
"""bus_capture.py - capture one message published on a Redis channel, byte for byte.

    bus_capture.py SOCKET CHANNEL OUT READY

Subscribes to CHANNEL on the Redis at unix socket SOCKET (RESP over a plain
socket: no client library needed), creates READY once the subscription
holds, writes the payload of the first message to OUT and exits 0. The
caller bounds the wait (timeout). cluster.bats republishes OUT with
`redis-cli -x PUBLISH`, as an attacker who read it with MONITOR would.
"""
import socket
import sys


def read_line(f):
    line = f.readline()
    if not line:
        sys.exit("bus_capture: Redis closed the connection")
    return line[:-2]


def read_reply(f):
    line = read_line(f)
    kind, rest = line[:1], line[1:]
    if kind == b"*":
        return [read_reply(f) for _ in range(int(rest))]
    if kind == b"$":
        n = int(rest)
        data = f.read(n + 2)
        return data[:n]
    if kind == b":":
        return int(rest)
    if kind == b"-":
        sys.exit("bus_capture: " + rest.decode())
    return rest


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    path, chan, out, ready = sys.argv[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    c = chan.encode()
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(c), c))
    f = s.makefile("rb")
    read_reply(f)  # the subscription's confirmation
    open(ready, "w").close()
    while True:
        r = read_reply(f)
        if isinstance(r, list) and len(r) == 3 and r[0] == b"message":
            with open(out, "wb") as o:
                o.write(r[2])
            return 0


if __name__ == "__main__":
    sys.exit(main())
