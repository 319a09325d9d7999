#!/usr/bin/env python3
"""rvclient.py - a raw RV protocol client for the CLI tests (stdlib only).

Steps run in order; every received frame header prints as one JSON line on
stdout (a body, if any, as "_body"); when the server closes, {"_closed": true}.

  --port P                 server port on 127.0.0.1
  --raw HEX                send these bytes (as the first step: instead of the preface)
  --no-preface             do not send "RVP1"
  --hello ID[:ROLE]        send a hello (role recv by default)
  --token T                token for --hello
  --frame JSON             send a frame with this header (repeatable, in order)
  --body TEXT              body of the next --frame
  --header-len N           send a frame prefix that claims a header of N bytes
  --expect TYPE            read until a frame of TYPE arrives (repeatable, in order)
  --expect-kind KIND       read until a frame whose "kind" is KIND arrives
  --reply-last JSON        send a frame with this header, "to" and "conn" taken from
                           the last message received (a reply to its sender's connection)
  --quit                   exit 0 here, without reading to the timeout
  --stall                  then stop reading: print {"_stalled":true} and sleep
  --rcvbuf N               SO_RCVBUF before connecting (small: fills fast)
  --timeout S              give up reading after S seconds (default 5)
"""
import json
import socket
import struct
import sys
import time


def frame(header, body=b""):
    h = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack(">II", len(h), len(body)) + h + body


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def next(self, deadline):
        while True:
            if len(self.buf) >= 8:
                hl, bl = struct.unpack(">II", self.buf[:8])
                if len(self.buf) >= 8 + hl + bl:
                    h = self.buf[8:8 + hl]
                    b = self.buf[8 + hl:8 + hl + bl]
                    self.buf = self.buf[8 + hl + bl:]
                    try:
                        obj = json.loads(h)
                    except ValueError:
                        obj = {"_bad_header": h.decode(errors="replace")}
                    if b:
                        obj["_body"] = b.decode(errors="replace")
                    return obj
            if self.closed:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return "timeout"
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.closed = True
            self.buf += data


def main(argv):
    port = None
    steps = []
    preface = True
    rcvbuf = 0
    timeout = 5.0
    token = None
    body = b""
    i = 0
    while i < len(argv):
        a = argv[i]
        v = argv[i + 1] if i + 1 < len(argv) else None
        i += 2
        if a == "--port":
            port = int(v)
        elif a == "--raw":
            if not steps:
                preface = False   # raw bytes first: no preface
            steps.append(("send", bytes.fromhex(v)))
        elif a == "--no-preface":
            preface = False
            i -= 1
        elif a == "--hello":
            hid, _, role = v.partition(":")
            steps.append(("hello", (hid, role or "recv")))
        elif a == "--token":
            token = v
        elif a == "--body":
            body = v.encode()
        elif a == "--frame":
            steps.append(("send", frame(json.loads(v), body)))
            body = b""
        elif a == "--header-len":
            steps.append(("send", struct.pack(">II", int(v), 0) + b"{" * 64))
        elif a == "--reply-last":
            steps.append(("reply", json.loads(v)))
        elif a == "--expect":
            steps.append(("expect", v))
        elif a == "--expect-kind":
            steps.append(("expect-kind", v))
        elif a == "--quit":
            steps.append(("quit", None))
            i -= 1
        elif a == "--stall":
            steps.append(("stall", None))
            i -= 1
        elif a == "--rcvbuf":
            rcvbuf = int(v)
        elif a == "--timeout":
            timeout = float(v)
        else:
            print("rvclient.py: unknown argument " + a, file=sys.stderr)
            return 2
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    if preface:
        sock.sendall(b"RVP1")
    r = Reader(sock)
    deadline = time.monotonic() + timeout
    last = {}
    for kind, arg in steps:
        if kind == "send":
            try:
                sock.sendall(arg)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif kind == "hello":
            h = {"type": "hello", "id": arg[0], "role": arg[1], "version": 1,
                 "client": "rvclient.py/1"}
            if token:
                h["token"] = token
            sock.sendall(frame(h))
        elif kind == "reply":
            h = dict(arg, to=last.get("from"))
            if "conn" in last:
                h["conn"] = last["conn"]
            sock.sendall(frame(h))
        elif kind in ("expect", "expect-kind"):
            field = "type" if kind == "expect" else "kind"
            while True:
                f = r.next(deadline)
                if f is None:
                    out({"_closed": True})
                    return 1
                if f == "timeout":
                    out({"_timeout": True})
                    return 1
                out(f)
                if f.get("type") == "msg":
                    last = f
                if f.get(field) in arg.split("|"):	# "ok|error": either
                    break
        elif kind == "quit":
            return 0
        elif kind == "stall":
            out({"_stalled": True})
            time.sleep(timeout)
            return 0
    while True:
        f = r.next(deadline)
        if f is None:
            out({"_closed": True})
            return 0
        if f == "timeout":
            out({"_timeout": True})
            return 0
        out(f)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
