// ice-tcp.test.mjs - WebRTC over TCP (ICE-TCP, RFC 6544 passive, RFC 4571
// framing on rvserver's TCP port): headless Chromium publishes by WHIP to an
// rvserver whose answers offer only the TCP candidate
// (RV_TEST_NO_UDP_CANDIDATES=1, a test-only setting: a network without UDP),
// and rvrecv records the group's stream as over UDP (whip.mjs). The selected
// candidate pair must be TCP on both sides. The same publish over UDP first
// gives the figures to compare (TAP comments).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserSuite, openPage, have } from './helpers.mjs';
import { whipRecorded } from './whip.mjs';

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
