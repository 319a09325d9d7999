// whip.mjs - one WHIP publish from a browser into a fresh rvserver, for
// whip.test.mjs (Chromium, playwright-core) and whip-firefox.test.mjs
// (firefox-esr, firefox.mjs): the page publishes its fake camera and
// microphone to /whip/show with fetch() and a plain RTCPeerConnection, as
// any WHIP client does; rvrecv, a member of "show", records what arrives;
// ffprobe and ffmpeg check the file. Prints issue 13's figures as TAP
// comments: the server time of the POST (rvserver -vv logs it) and POST to
// the first recorded frame (rvrecv --json's "stream" event, when its
// recording starts). Also a WHEP viewer in the page (watch, received) for
// whep.test.mjs and ice-tcp.test.mjs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startServer, startTool, tmpdir, sleep, until } from './helpers.mjs';

// In the page: publish camera and microphone to URL by WHIP (video in CODEC
// when given, the RTCPeerConnection's BUNDLEPOLICY when given); resolves with the Location once the PeerConnection is
// connected, when the POST was sent (posted, wall clock ms), how long
// connecting took (ms), and whether the offer had a=bundle-only m-lines
// (bundleOnly). The connection is window.pc. The camera gives WIDTH x HEIGHT
// (default 320x240).
export async function publish({ url, codec, bundlePolicy, width = 320, height = 240 }) {
  const t0 = performance.now();
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width, height, frameRate: 30 }, audio: true,
  });
  const pc = new RTCPeerConnection(bundlePolicy ? { bundlePolicy } : {});
  window.pc = pc;
  for (const track of stream.getTracks()) {
    const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    if (track.kind === 'video' && codec) {
      const caps = RTCRtpSender.getCapabilities('video').codecs.filter((c) => c.mimeType === `video/${codec}`);
      tr.setCodecPreferences(caps);
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
  const posted = Date.now();
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  const answer = await r.text();
  if (r.status !== 201) throw new Error(`POST ${url}: ${r.status} ${answer}`);
  const location = r.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not connected in 10 s: ${pc.connectionState}/${pc.iceConnectionState}`)), 10000);
    const check = () => {
      if (pc.connectionState === 'connected') { clearTimeout(t); resolve(); }
      if (pc.connectionState === 'failed') { clearTimeout(t); reject(new Error('connection failed')); }
    };
    pc.onconnectionstatechange = check;
    check();
  });
  const bundleOnly = /\na=bundle-only\r?\n/.test(pc.localDescription.sdp);
  return { location, posted, ms: performance.now() - t0, bundleOnly };
}

// In the page: the video frames window.pc reports sent.
export async function framesSent() {
  let n = 0;
  (await window.pc.getStats()).forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'video') n += r.framesSent || 0; });
  return n;
}

// In the page: the protocols (udp, tcp) of window.pc's selected candidate
// pair, {local, remote}.
export async function selectedProtocol() {
  const st = await window.pc.getStats();
  let pair = null;
  st.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pair = st.get(r.selectedCandidatePairId); });
  const l = pair && st.get(pair.localCandidateId), rm = pair && st.get(pair.remoteCandidateId);
  return { local: l && l.protocol, remote: rm && rm.protocol, tcpType: l && l.tcpType };
}

// In the page: why window.pc is not connected, for a failure message.
export async function pcState() {
  const pc = window.pc;
  if (!pc) return 'no RTCPeerConnection';
  const out = { connection: pc.connectionState, ice: pc.iceConnectionState, signaling: pc.signalingState, stats: [] };
  (await pc.getStats()).forEach((r) => {
    if (['candidate-pair', 'local-candidate', 'remote-candidate', 'transport'].includes(r.type)) {
      const { id, type, state, nominated, address, port, candidateType, protocol, dtlsState, iceState, bytesSent, bytesReceived } = r;
      out.stats.push({ id, type, state, nominated, address, port, candidateType, protocol, dtlsState, iceState, bytesSent, bytesReceived });
    }
  });
  out.remote = pc.remoteDescription && pc.remoteDescription.sdp;
  return JSON.stringify(out);
}

function probe(file, logs = "") {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries',
    'stream=codec_type,codec_name,nb_read_frames', '-of', 'json', file], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `ffprobe ${file}: ${r.stderr}${logs}`);
  return JSON.parse(r.stdout).streams;
}

// Publish from BROWSER (its name), reached by OPEN(url) (loads a page of that
// origin) and EVALUATE(fn, arg) (runs fn in it, awaited) for SECS seconds
// (CODEC and BUNDLEPOLICY as publish takes them), rvserver run with ENV; the
// recording must hold VIDEO (a codec name) and Opus, 90% of the frames sent
// at least, and decode cleanly. CLEANUPS gets what to stop. T is the
// node:test context (for the figures). Resolves to the figures.
export async function whipRecorded(t, { browser, open, evaluate, codec, bundlePolicy, video, cleanups, secs = 4, env = {} }) {
  const srv = await startServer(['-vv'], env);
  cleanups.push(() => srv.stop());
  const file = path.join(tmpdir(), `whip-${video}.mkv`);
  const rec = startTool('rvrecv', ['-s', `127.0.0.1:${srv.port}`, '-n', 'rec', '-g', 'show', 'media',
    '-o', file, '--count', '1', '--json', '-v']);
  cleanups.push(() => rec.stop());
  let recording = 0;
  rec.child.stdout.on('data', (d) => { if (!recording && /"event":"stream"/.test(String(d))) recording = Date.now(); });
  // a member of "show" with its media path up before the publisher comes
  await until(() => /taking media over/.test(rec.log()) || rec.exited, 10000, 'rvrecv to take media');
  await open(`${srv.url}/healthz`);
  let pub;
  try {
    pub = await evaluate(publish, { url: `${srv.url}/whip/show`, codec, bundlePolicy });
  } catch (e) {
    const st = await evaluate(pcState).catch((x) => `(no state: ${x.message})`);
    throw new Error(`${e.message}\npeer connection: ${st}\nrvserver: ${srv.log()}`);
  }
  assert.match(pub.location, /^\/whip\/show\/[0-9a-f]{32}$/);
  const protocol = await evaluate(selectedProtocol);
  await sleep(secs * 1000);
  const sent = await evaluate(framesSent);
  const del = await fetch(`${srv.url}${pub.location}`, { method: 'DELETE' });
  assert.equal(del.status, 200);
  const exited = await rec.wait(15000);
  const logs = `\nrvrecv: ${rec.log()}\nrvserver: ${srv.log()}`;
  assert.ok(exited, `rvrecv did not finish${logs}`);
  assert.equal(exited.code, 0, logs);
  const streams = probe(file, logs);
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  assert.equal(v && v.codec_name, video, JSON.stringify(streams) + logs);
  assert.equal(a && a.codec_name, 'opus', JSON.stringify(streams) + logs);
  // the frames the browser sent before the DELETE, 90% of them at least
  assert.ok(sent > 30 && Number(v.nb_read_frames) >= 0.9 * sent, `video frames: ${v.nb_read_frames} of ${sent} sent${logs}`);
  // Decoded with the file's own time base: a browser's capture times jitter
  // by a few ms, and in 1/fps ticks two frames could fall on one tick
  // ("non monotonically increasing dts" from the null muxer, not the file).
  const dec = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-enc_time_base', '-1', '-f', 'null', '-'],
    { encoding: 'utf8', timeout: 60000 });
  assert.equal(dec.stderr.trim(), '', 'ffmpeg -v error prints nothing');
  const stats = await (await fetch(`${srv.url}/stats`)).json();
  assert.equal(stats.webrtc.handshakes, 1, JSON.stringify(stats.webrtc));
  const served = /WHIP POST for #show answered in ([0-9.]+) ms/.exec(srv.log());
  assert.ok(served, `rvserver -vv logs the POST's time${logs}`);
  assert.ok(recording >= pub.posted, `rvrecv's stream event after the POST${logs}`);
  const up = /connected in ([0-9]+) ms/.exec(srv.log());
  const figures = {
    serverMs: Number(served[1]), firstFrameMs: recording - pub.posted, connectMs: Math.round(pub.ms),
    upMs: up ? Number(up[1]) : null, frames: `${v.nb_read_frames}/${sent}`, bundleOnly: pub.bundleOnly,
    protocol, stats,
  };
  t.diagnostic(`${browser} ${video}${bundlePolicy ? ` ${bundlePolicy}` : ''}: POST ${figures.serverMs} ms of server time; POST to first recorded frame ${figures.firstFrameMs} ms ` +
    `(rvserver: POST to SRTP keys ${figures.upMs} ms); getUserMedia to connected ${figures.connectMs} ms; frames recorded/sent ${figures.frames}`);
  return figures;
}

// In the page: watch URL by WHEP; resolves with the Location once connected.
export async function watch({ url }) {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  const video = document.createElement('video');
  video.autoplay = true;
  video.muted = true;
  document.body.appendChild(video);
  pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  const answer = await r.text();
  if (r.status !== 201) throw new Error(`POST ${url}: ${r.status} ${answer}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  return { location: r.headers.get('Location'), answer };
}

// What PAGE's window.pc received: video frames decoded, audio samples, its
// state, the video codec, NACKs sent and packets lost.
export function received(page) {
  return page.evaluate(async () => {
    const out = { frames: 0, samples: 0, state: window.pc.connectionState, codec: '', nacks: 0, lost: 0 };
    const st = await window.pc.getStats();
    st.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.frames += r.framesDecoded || 0;
        out.nacks += r.nackCount || 0;
        out.lost += r.packetsLost || 0;
        const c = r.codecId && st.get(r.codecId);
        if (c) out.codec = c.mimeType;
      }
      if (r.type === 'inbound-rtp' && r.kind === 'audio') out.samples += r.totalSamplesReceived || 0;
    });
    return out;
  });
}

// rvsend into SRV's group "show": a test pattern in VCODEC and a tone for 40 s,
// stopped by CLEANUPS; resolves with it once its stream is announced.
export async function rvsendShow(srv, vcodec, cleanups) {
  const cam = startTool('rvsend', ['-s', `127.0.0.1:${srv.port}`, '-n', 'cam', '-g', 'show', 'media',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '--vcodec', vcodec, '--duration', '40']);
  cleanups.push(() => cam.stop());
  await until(() => /stream 1 to #show/.test(srv.log()), 10000, 'rvsend to announce its stream');
  return cam;
}
