// whip.test.mjs - WHIP into rvserver from headless Chromium (fake camera and
// microphone): the browser publishes to group "show" with a plain
// RTCPeerConnection and fetch(), as any WHIP client does; rvrecv, a member
// of "show", records what arrives, and ffprobe checks the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startServer, startTool, browserSuite, openPage, tmpdir, have, sleep } from './helpers.mjs';

const suite = browserSuite();
const cleanups = suite.cleanups;

// In the page: publish camera and microphone to URL by WHIP; resolves with
// the Location once the PeerConnection is connected (ms: how long it took).
async function publish({ url, codec }) {
  const t0 = performance.now();
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: 320, height: 240, frameRate: 30 }, audio: true,
  });
  const pc = new RTCPeerConnection();
  window.pc = pc;
  for (const track of stream.getTracks()) {
    const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    if (track.kind === 'video' && codec) {
      const caps = RTCRtpSender.getCapabilities('video').codecs.filter((c) => c.mimeType === `video/${codec}`);
      tr.setCodecPreferences(caps);
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
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
  return { location, ms: performance.now() - t0 };
}

function probe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries',
    'stream=codec_type,codec_name,nb_read_frames', '-of', 'json', file], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout).streams;
}

for (const codec of ['VP8', 'H264']) {
  test(`Chromium publishes ${codec} and Opus by WHIP; rvrecv records the group's stream`, { skip: !have('ffprobe') && 'no ffprobe' }, async () => {
    const srv = await startServer(['-v']);
    cleanups.push(() => srv.stop());
    const dir = tmpdir();
    const file = path.join(dir, `whip-${codec}.mkv`);
    const rec = startTool('rvrecv', ['-s', `127.0.0.1:${srv.port}`, '-n', 'rec', '-g', 'show', 'media',
      '-o', file, '--count', '1', '--json', '-v']);
    cleanups.push(() => rec.stop());
    const page = await openPage(suite.browser, `${srv.url}/healthz`);
    cleanups.push(() => page.context().close());
    const pub = await page.evaluate(publish, { url: `${srv.url}/whip/show`, codec });
    assert.match(pub.location, /^\/whip\/show\/[0-9a-f]{32}$/);
    await sleep(4000);
    const sent = await page.evaluate(async () => {
      let n = 0;
      (await window.pc.getStats()).forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'video') n += r.framesSent || 0; });
      return n;
    });
    const del = await fetch(`${srv.url}${pub.location}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const exited = await rec.wait(15000);
    const logs = `\nrvrecv: ${rec.log()}\nrvserver: ${srv.log()}`;
    assert.ok(exited, `rvrecv did not finish${logs}`);
    assert.equal(exited.code, 0, logs);
    const streams = probe(file);
    const v = streams.find((s) => s.codec_type === 'video');
    const a = streams.find((s) => s.codec_type === 'audio');
    assert.equal(v && v.codec_name, codec.toLowerCase(), JSON.stringify(streams) + logs);
    assert.equal(a && a.codec_name, 'opus', JSON.stringify(streams) + logs);
    // the frames the browser sent before the DELETE, 90% of them at least
    assert.ok(sent > 30 && Number(v.nb_read_frames) >= 0.9 * sent, `video frames: ${v.nb_read_frames} of ${sent} sent${logs}`);
    const dec = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', timeout: 60000 });
    assert.equal(dec.stderr.trim(), '', 'ffmpeg -v error prints nothing');
    const stats = await (await fetch(`${srv.url}/stats`)).json();
    assert.equal(stats.webrtc.handshakes, 1, JSON.stringify(stats.webrtc));
  });
}
