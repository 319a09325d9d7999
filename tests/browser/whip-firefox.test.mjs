// whip-firefox.test.mjs - WHIP into rvserver from Debian's firefox-esr
// (fake camera and microphone, VP8: its H.264 is off), driven through
// Marionette (firefox.mjs): the page publishes to group "show" with a plain
// RTCPeerConnection and fetch(); rvrecv records the group's stream and
// ffprobe checks the file (whip.mjs), once with max-bundle and once with
// Firefox's default policy. Skipped when firefox-esr is not installed or
// does not start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { have } from './helpers.mjs';
import { launchFirefox, firefoxMissing } from './firefox.mjs';
import { whipRecorded } from './whip.mjs';

let ff = null;
let skip = null;
const cleanups = [];

before(async () => {
  skip = firefoxMissing() || (!have('ffprobe') && 'no ffprobe');
  if (skip) return;
  try {
    ff = await launchFirefox({ timeout: 60000 });
  } catch (e) {
    skip = `firefox-esr did not start: ${e.message.slice(0, 400)}`;
  }
});

after(async () => {
  for (const f of cleanups.reverse()) { try { await f(); } catch { /* best effort */ } }
  if (ff) await ff.stop().catch(() => {});
});

// Firefox's default bundle policy (balanced) offers every m-line with its
// own port; with max-bundle, the m-lines after the first have port 0 and
// a=bundle-only, which rvserver's answer (lib/wsdp) must take as bundled.
for (const bundlePolicy of ['max-bundle', undefined]) {
  test(`Firefox publishes VP8 and Opus by WHIP (bundlePolicy ${bundlePolicy || 'balanced'}); rvrecv records the group's stream`, { timeout: 60000 }, async (t) => {
    if (skip) { t.skip(skip); return; }
    const f = await whipRecorded(t, {
      browser: 'Firefox',
      codec: 'VP8',
      bundlePolicy,
      video: 'vp8',
      cleanups,
      open: (url) => ff.navigate(url),
      evaluate: (fn, arg) => ff.exec(fn, arg),
    });
    assert.equal(f.bundleOnly, bundlePolicy === 'max-bundle', 'a=bundle-only in the offer with max-bundle only');
  });
}
