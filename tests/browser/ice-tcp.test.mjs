// ice-tcp.test.mjs - WebRTC over TCP (ICE-TCP, RFC 6544 passive, RFC 4571
// framing on rvserver's TCP port): headless Chromium publishes by WHIP to an
// rvserver whose answers offer only the TCP candidate
// (RV_TEST_NO_UDP_CANDIDATES=1, a test-only setting: a network without UDP),
// and rvrecv records the group's stream as over UDP (whip.mjs). The selected
// candidate pair must be TCP on both sides. The same publish over UDP first
// gives the figures to compare (TAP comments). Last, Chromium watches
// rvsend's stream by WHEP over TCP alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserSuite, openPage, have, startServer, until } from './helpers.mjs';
import { whipRecorded, watch, received, selectedProtocol, rvsendShow } from './whip.mjs';

const suite = browserSuite();
const cleanups = suite.cleanups;

const figures = {};
for (const transport of ['udp', 'tcp']) {
  test(`Chromium publishes VP8 and Opus by WHIP over ${transport.toUpperCase()}; rvrecv records it`, { skip: !have('ffprobe') && 'no ffprobe' }, async (t) => {
    let page;
    const f = await whipRecorded(t, {
      browser: `Chromium over ${transport.toUpperCase()}`,
      codec: 'VP8',
      video: 'vp8',
      cleanups,
      env: transport === 'tcp' ? { RV_TEST_NO_UDP_CANDIDATES: '1' } : {},
      open: async (url) => {
        page = await openPage(suite.browser, url);
        cleanups.push(() => page.context().close());
      },
      evaluate: (fn, arg) => page.evaluate(fn, arg),
    });
    assert.equal(f.protocol.local, transport, JSON.stringify(f.protocol));
    assert.equal(f.protocol.remote, transport, JSON.stringify(f.protocol));
    if (transport === 'tcp') assert.ok(f.stats.webrtc.tcp_paths > 0, JSON.stringify(f.stats.webrtc));
    figures[transport] = f;
    if (figures.udp && figures.tcp)
      t.diagnostic(`POST to connected (getUserMedia included): UDP ${figures.udp.connectMs} ms, TCP ${figures.tcp.connectMs} ms; ` +
        `rvserver POST to SRTP keys: UDP ${figures.udp.upMs} ms, TCP ${figures.tcp.upMs} ms; ` +
        `POST to first recorded frame: UDP ${figures.udp.firstFrameMs} ms, TCP ${figures.tcp.firstFrameMs} ms`);
  });
}

test('Chromium watches rvsend\'s VP8 and Opus by WHEP over TCP alone: frames decoded, audio played', async () => {
  const srv = await startServer(['-v'], { RV_TEST_NO_UDP_CANDIDATES: '1' });
  cleanups.push(() => srv.stop());
  const cam = await rvsendShow(srv, 'vp8', cleanups);
  const page = await openPage(suite.browser, `${srv.url}/healthz`);
  cleanups.push(() => page.context().close());
  const w = await page.evaluate(watch, { url: `${srv.url}/whep/show` });
  assert.doesNotMatch(w.answer, / udp /);
  const logs = () => `\nrvserver: ${srv.log()}\nrvsend: ${cam.log()}`;
  const got = await until(async () => {
    const r = await received(page);
    return r.frames >= 30 && r.samples > 0 ? r : null;
  }, 15000, 'frames and samples').catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await received(page))}${logs()}`); });
  assert.equal(got.codec.toLowerCase(), 'video/vp8');
  const p = await page.evaluate(selectedProtocol);
  assert.deepEqual([p.local, p.remote], ['tcp', 'tcp'], JSON.stringify(p));
  const legs = (await (await fetch(`${srv.url}/webrtc`)).json()).sessions;
  assert.equal(legs[0].transport, 'tcp', JSON.stringify(legs));
  assert.ok(legs[0].packets_out > 30, JSON.stringify(legs));
  const del = await fetch(`${srv.url}${w.location}`, { method: 'DELETE' });
  assert.equal(del.status, 200);
});
