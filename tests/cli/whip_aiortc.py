#!/usr/bin/python3
"""whip_aiortc.py - a WHIP publisher (RFC 9725) made with aiortc, a WebRTC
stack that is not a browser's: a synthetic video track (a moving gradient,
320x240 at 30 fps) and a 440 Hz tone, sent for SECONDS, then the session's
DELETE. Standard library and aiortc (Debian's python3-aiortc) only.

  whip_aiortc.py URL [--seconds N] [--no-audio] [--audio-codec NAME] [--timeout N]

URL is the WHIP endpoint (http://127.0.0.1:PORT/whip/GROUP). --audio-codec
offers that audio codec alone (opus, PCMU or PCMA; default all three). Prints one JSON
line on stdout when done: location, connected_ms (POST to connected),
video_frames (the frames the video track produced before the DELETE), codecs
(the answer's video and audio rtpmap names). Exit 0, or 1 with the reason on
stderr (refused offer, no connection within --timeout, DELETE refused)."""
import argparse
import asyncio
import fractions
import json
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from aiortc import (MediaStreamTrack, RTCPeerConnection, RTCRtpSender,
                    RTCSessionDescription, VideoStreamTrack)
from av import AudioFrame, VideoFrame

W, H = 320, 240


class Gradient(VideoStreamTrack):
    """Frames whose luma gradient moves one pixel a frame; counts them."""

    def __init__(self):
        super().__init__()
        self.frames = 0
        self.counting = True

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        n = self.frames
        if self.counting:
            self.frames += 1
        frame = VideoFrame(width=W, height=H, format="yuv420p")
        row = bytes((x + n) & 0xFF for x in range(W))
        frame.planes[0].update(row * H)
        frame.planes[1].update(bytes([(n * 3) & 0xFF]) * (W // 2 * H // 2))
        frame.planes[2].update(bytes([128]) * (W // 2 * H // 2))
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(MediaStreamTrack):
    """A 440 Hz sine, 20 ms frames of 48 kHz mono s16, paced in real time."""
    kind = "audio"

    def __init__(self):
        super().__init__()
        self.t0 = None
        self.sent = 0

    async def recv(self):
        rate, samples = 48000, 960
        if self.t0 is None:
            self.t0 = time.monotonic()
        else:
            wait = self.t0 + self.sent / rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        pcm = bytearray()
        for i in range(samples):
            v = int(8000 * math.sin(2 * math.pi * 440 * (self.sent + i) / rate))
            pcm += v.to_bytes(2, "little", signed=True)
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(bytes(pcm))
        frame.sample_rate = rate
        frame.pts = self.sent
        frame.time_base = fractions.Fraction(1, rate)
        self.sent += samples
        return frame


def http(method, url, body=None, ctype=None):
    """(status, headers, body) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


def rtpmap(sdp, kind):
    """The codec of the first payload type of the answer's KIND m-line."""
    pt = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            f = line.split()
            pt = f[3] if f[0] == "m=" + kind and f[1] != "0" and len(f) > 3 else None
        elif pt and line.startswith("a=rtpmap:%s " % pt):
            return line.split()[1].split("/")[0]
    return None


async def publish(args):
    video, audio = Gradient(), None if args.no_audio else Tone()
    pc = RTCPeerConnection()
    pc.addTransceiver(video, direction="sendonly")
    if audio:
        t = pc.addTransceiver(audio, direction="sendonly")
        if args.audio_codec:
            t.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("audio").codecs
                                   if c.mimeType.lower() == "audio/" + args.audio_codec.lower()])
    try:
        await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        status, headers, answer = await loop.run_in_executor(
            None, http, "POST", args.url, pc.localDescription.sdp.encode(), "application/sdp")
        if status != 201:
            raise RuntimeError("POST %s: %d %s" % (args.url, status, answer.strip()))
        location = urllib.parse.urljoin(args.url, headers["Location"])
        connected = asyncio.Event()

        @pc.on("connectionstatechange")
        def on_state():
            if pc.connectionState in ("connected", "failed"):
                connected.set()

        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        try:
            await asyncio.wait_for(connected.wait(), args.timeout)
        except asyncio.TimeoutError:
            pass
        if pc.connectionState != "connected":
            raise RuntimeError("not connected in %g s: %s (ICE %s)" % (args.timeout, pc.connectionState,
                                                                         pc.iceConnectionState))
        connected_ms = round((time.monotonic() - t0) * 1000)
        await asyncio.sleep(args.seconds)
        video.counting = False
        status, _, body = await loop.run_in_executor(None, http, "DELETE", location)
        if status != 200:
            raise RuntimeError("DELETE %s: %d %s" % (location, status, body.strip()))
        print(json.dumps({"location": headers["Location"], "connected_ms": connected_ms,
                          "video_frames": video.frames,
                          "codecs": [rtpmap(answer, "video"), rtpmap(answer, "audio")]}), flush=True)
    finally:
        await pc.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--no-audio", action="store_true")
    p.add_argument("--audio-codec")
    args = p.parse_args()
    try:
        asyncio.run(publish(args))
    except Exception as e:  # any failure: one line, exit 1
        print("whip_aiortc: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
