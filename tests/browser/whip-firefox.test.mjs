// whip-firefox.test.mjs - WHIP into rvserver from Debian's firefox-esr
// (fake camera and microphone, VP8: its H.264 is off), driven through
// Marionette (firefox.mjs): the page publishes to group "show" with a plain
// RTCPeerConnection and fetch(); rvrecv records the group's stream and
// ffprobe checks the file (whip.mjs), once with max-bundle and once with
// Firefox's default policy, then over TCP alone (ICE over TCP: rvserver with
// RV_TEST_NO_UDP_CANDIDATES=1, a test-only setting). Skipped when firefox-esr is not installed or
// does not start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { have } from './helpers.mjs';
import { firefoxSuite } from './firefox.mjs';
import { whipRecorded } from './whip.mjs';

const suite = firefoxSuite();

// Firefox's default bundle policy (balanced) offers every m-line with its
// own port; with max-bundle, the m-lines after the first have port 0 and
// a=bundle-only, which rvserver's answer (lib/wsdp) must take as bundled.
for (const bundlePolicy of ['max-bundle', undefined]) {
  test(`Firefox publishes VP8 and Opus by WHIP (bundlePolicy ${bundlePolicy || 'balanced'}); rvrecv records the group's stream`, { timeout: 60000 }, async (t) => {
    const skip = suite.skip || (!have('ffprobe') && 'no ffprobe');
    if (skip) { t.skip(skip); return; }
    const f = await whipRecorded(t, {
      browser: 'Firefox',
      codec: 'VP8',
      bundlePolicy,
      video: 'vp8',
      cleanups: suite.cleanups,
      open: (url) => suite.ff.navigate(url),
      evaluate: (fn, arg) => suite.ff.exec(fn, arg),
    });
    assert.equal(f.bundleOnly, bundlePolicy === 'max-bundle', 'a=bundle-only in the offer with max-bundle only');
  });
}

test('Firefox publishes VP8 and Opus by WHIP over TCP alone (ICE over TCP); rvrecv records the group\'s stream', { timeout: 60000 }, async (t) => {
  const skip = suite.skip || (!have('ffprobe') && 'no ffprobe');
  if (skip) { t.skip(skip); return; }
  const f = await whipRecorded(t, {
    browser: 'Firefox over TCP',
    codec: 'VP8',
    video: 'vp8',
    env: { RV_TEST_NO_UDP_CANDIDATES: '1' },
    cleanups: suite.cleanups,
    open: (url) => suite.ff.navigate(url),
    evaluate: (fn, arg) => suite.ff.exec(fn, arg),
  });
  assert.ok(f.stats.webrtc.tcp_paths > 0, JSON.stringify(f.stats.webrtc));
});
