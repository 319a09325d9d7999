// whip-rtcp.test.mjs - rvserver's RTCP to a WHIP publisher (headless
// Chromium, fake camera): its receiver reports reach the browser (which
// then has remote-inbound-rtp stats, with a round trip from LSR/DLSR), and
// its REMB caps the browser's video: with --webrtc-max-bitrate 200000 the
// browser sends well under what it sends with the default cap. The rates
// are compared with a wide margin, never against a tight threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, browserSuite, openPage, sleep, until } from './helpers.mjs';
import { publish, pcState } from './whip.mjs';

const suite = browserSuite();
const cleanups = suite.cleanups;

// In the page: what window.pc's getStats says of its video and the reports
// it got: bytes sent, the encoder's target, and each remote-inbound-rtp.
async function sendStats() {
  const out = { bytes: 0, target: 0, at: performance.now(), available: 0, remote: [] };
  const st = await window.pc.getStats();
  st.forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') {
      out.bytes += r.bytesSent || 0;
      out.target = r.targetBitrate || 0;
    }
    if (r.type === 'candidate-pair' && r.nominated && r.availableOutgoingBitrate) out.available = r.availableOutgoingBitrate;
    if (r.type === 'remote-inbound-rtp') {
      out.remote.push({ kind: r.kind, ssrc: r.ssrc, packetsLost: r.packetsLost, fractionLost: r.fractionLost,
        jitter: r.jitter, rtt: r.roundTripTime, rtts: r.roundTripTimeMeasurements });
    }
  });
  return out;
}

// Publish VP8 from a fresh page to a fresh rvserver started with ARGS;
// after SETTLE ms, the video rate over SPAN ms and the last stats.
async function measure(args, settle = 4000, span = 6000) {
  const srv = await startServer(['-v', ...args]);
  cleanups.push(() => srv.stop());
  const page = await openPage(suite.browser, `${srv.url}/healthz`);
  cleanups.push(() => page.context().close());
  try {
    await page.evaluate(publish, { url: `${srv.url}/whip/show`, codec: 'VP8', width: 640, height: 480 });
  } catch (e) {
    const st = await page.evaluate(pcState).catch((x) => `(no state: ${x.message})`);
    throw new Error(`${e.message}\npeer connection: ${st}\nrvserver: ${srv.log()}`);
  }
  await sleep(settle);
  const a = await page.evaluate(sendStats);
  await sleep(span);
  const b = await page.evaluate(sendStats);
  const stats = await (await fetch(`${srv.url}/stats`)).json();
  return { bps: Math.round(((b.bytes - a.bytes) * 8 * 1000) / (b.at - a.at)), last: b, stats, srv, page };
}

test('Chromium publishing by WHIP gets receiver reports and REMB; --webrtc-max-bitrate caps its video', async (t) => {
  const free = await measure([]);
  const logs = (m) => `\nrvserver: ${m.srv.log()}`;
  // our receiver reports: a remote-inbound-rtp per track, the video's with a round trip
  const rv = await until(async () => {
    const s = await free.page.evaluate(sendStats);
    const v = s.remote.find((r) => r.kind === 'video');
    return v && v.rtts > 0 && s.remote.some((r) => r.kind === 'audio') ? s.remote : null;
  }, 10000, 'remote-inbound-rtp with a round trip').catch(async (e) => {
    throw new Error(`${e.message}: ${JSON.stringify((await free.page.evaluate(sendStats)).remote)}${logs(free)}`);
  });
  const video = rv.find((r) => r.kind === 'video');
  assert.ok(video.rtt >= 0 && video.rtt < 1, `round trip ${video.rtt} s`);
  assert.ok(free.stats.webrtc.reports >= 5, JSON.stringify(free.stats.webrtc));
  assert.ok(free.stats.webrtc.rembs >= 5, JSON.stringify(free.stats.webrtc));
  // GET /webrtc: the publisher's leg, up, with packets of both kinds and our reports
  const list = (await (await fetch(`${free.srv.url}/webrtc`)).json()).sessions;
  const pub = list.find((x) => x.role === 'publisher');
  assert.ok(pub && pub.state === 'up' && /:[0-9]+$/.test(pub.path) && pub.reports >= 5, JSON.stringify(list));
  for (const kind of ['audio', 'video']) {
    const k = pub.tracks.find((x) => x.kind === kind);
    assert.ok(k && k.packets > 50 && k.bytes > k.packets * 12 && k.lost >= 0, `${kind}: ${JSON.stringify(pub)}`);
  }
  const capped = await measure(['--webrtc-max-bitrate', '200000']);
  t.diagnostic(`Chromium VP8 640x480 video: ${free.bps} bit/s with the default cap (2.5M; target ${free.last.target}, ` +
    `available ${free.last.available}), ${capped.bps} bit/s with --webrtc-max-bitrate 200000 (target ${capped.last.target}, ` +
    `available ${capped.last.available}); video report: lost ${video.packetsLost}, jitter ${video.jitter} s, rtt ${video.rtt} s`);
  assert.ok(capped.stats.webrtc.rembs >= 5, JSON.stringify(capped.stats.webrtc));
  // the browser's estimate is the REMB's; what it sends is well under the default run's
  assert.ok(capped.last.available > 0 && capped.last.available <= 200000, `capped: available ${capped.last.available}`);
  assert.ok(free.last.available > 200000, `default: available ${free.last.available}`);
  assert.ok(capped.bps < 0.75 * free.bps, `capped ${capped.bps} bit/s, default ${free.bps} bit/s${logs(capped)}`);
  assert.ok(capped.bps < 2 * 200000, `capped ${capped.bps} bit/s${logs(capped)}`);
});
