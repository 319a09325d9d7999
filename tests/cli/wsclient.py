#!/usr/bin/env python3
"""wsclient.py - a tiny WebSocket client for the CLI tests (stdlib only).

Connects to ws://127.0.0.1:PORT/rv, sends RV frames as binary messages
(no preface), prints each received frame header as one JSON line (a body as
"_body"). Exits 0 after --count msg frames, 1 on close or timeout.

  wsclient.py --port P --id ID [--join GROUP] [--count N] [--timeout S]
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def rv_frame(header, body=b""):
    h = json.dumps(header).encode()
    return struct.pack(">II", len(h), len(body)) + h + body


class WS:
    def __init__(self, port, path, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16))
        req = (b"GET " + path.encode() + b" HTTP/1.1\r\n"
               b"Host: 127.0.0.1:" + str(port).encode() + b"\r\n"
               b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: " + key + b"\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise RuntimeError("closed during the handshake")
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise RuntimeError("handshake refused: " + lines[0])
        want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                for l in lines[1:] if ":" in l}
        if hdrs.get("sec-websocket-accept") != want:
            raise RuntimeError("bad Sec-WebSocket-Accept")

    def send(self, payload, opcode=2):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            hdr = struct.pack(">BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            hdr = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError()
            self.buf += data

    def recv(self, deadline):
        """One whole message: (opcode, payload)."""
        parts, first_op = [], None
        while True:
            self._need(2, deadline)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                self._need(4, deadline)
                n, off = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10, deadline)
                n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
            if b1 & 0x80:
                raise RuntimeError("the server masked a frame")
            self._need(off + n, deadline)
            payload = self.buf[off:off + n]
            self.buf = self.buf[off + n:]
            op = b0 & 0x0F
            if op == 9:   # ping: answer
                self.send(payload, 10)
                continue
            if op >= 8:
                return op, payload
            if first_op is None:
                first_op = op
            parts.append(payload)
            if b0 & 0x80:
                return first_op, b"".join(parts)


def main(argv):
    args = {"--port": None, "--id": "ws1", "--join": None, "--count": "1", "--timeout": "5"}
    it = iter(argv)
    for a in it:
        if a not in args:
            print("wsclient.py: unknown argument " + a, file=sys.stderr)
            return 2
        args[a] = next(it)
    timeout = float(args["--timeout"])
    want = int(args["--count"])
    deadline = time.monotonic() + timeout
    ws = WS(int(args["--port"]), "/rv", timeout)
    ws.send(rv_frame({"type": "hello", "id": args["--id"], "role": "recv", "version": 1,
                      "client": "wsclient.py/1"}))
    if args["--join"]:
        ws.send(rv_frame({"type": "join", "seq": 1, "group": args["--join"]}))
    got = 0
    try:
        while got < want:
            op, payload = ws.recv(deadline)
            if op == 8:
                out({"_closed": True})
                return 1
            if op != 2:
                out({"_opcode": op})
                continue
            hl, bl = struct.unpack(">II", payload[:8])
            h = json.loads(payload[8:8 + hl])
            if bl:
                h["_body"] = payload[8 + hl:8 + hl + bl].decode(errors="replace")
            out(h)
            if h.get("type") == "msg":
                got += 1
    except socket.timeout:
        out({"_timeout": True})
        return 1
    except EOFError:
        out({"_closed": True})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
