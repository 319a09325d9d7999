"""ice_check.py - an ICE connectivity check as a browser sends it, for the
WHIP tests (whip.bats): a STUN Binding request with USERNAME, PRIORITY,
ICE-CONTROLLING, MESSAGE-INTEGRITY keyed with PWD and FINGERPRINT."""
import hashlib
import hmac
import os
import struct
import zlib


def attr(t, v):
    return struct.pack('!HH', t, len(v)) + v + b'\0' * (-len(v) % 4)


def check(user, pwd):
    """One check from USER ("ours:theirs") signed with PWD (the answer's)."""
    tid = os.urandom(12)
    body = attr(0x0006, user.encode()) + attr(0x0024, struct.pack('!I', 1853817087)) + attr(0x802A, os.urandom(8))
    head = struct.pack('!HHI', 0x0001, len(body) + 24, 0x2112A442) + tid
    msg = head + body + attr(0x0008, hmac.new(pwd.encode(), head + body, hashlib.sha1).digest())
    msg = struct.pack('!HHI', 0x0001, len(msg) - 20 + 8, 0x2112A442) + tid + msg[20:]
    return msg + attr(0x8028, struct.pack('!I', zlib.crc32(msg) ^ 0x5354554E))


def framed(user, pwd):
    """The same framed for ICE over TCP (RFC 4571: a 2-byte length first)."""
    msg = check(user, pwd)
    return struct.pack('!H', len(msg)) + msg
