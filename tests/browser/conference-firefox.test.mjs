// conference-firefox.test.mjs - rvserver's conference page in Debian's
// firefox-esr (Marionette, firefox.mjs) with headless Chromium in the same
// room: each decodes the other (VP8 both ways: Firefox's H.264 is off),
// chat goes both ways, Firefox restarts ICE by PATCH and is still decoded,
// and Firefox's view is saved as a screenshot
// (RV_SCREENSHOT_DIR, default /tmp). Skipped when firefox-esr is missing or
// does not start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, openPage, waitFor, until } from './helpers.mjs';
import { firefoxSuite, ffWait } from './firefox.mjs';

const SHOTS = process.env.RV_SCREENSHOT_DIR || '/tmp';
const suite = firefoxSuite({ chromium: true });

// In the page: the video frames decoded from sender FROM (0 without a viewer).
async function framesFrom(from) {
  const pc = window.rv && window.rv.viewers.get(from);
  if (!pc || pc.connectionState !== 'connected') return 0;
  let n = 0;
  (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
  return n;
}

test('Firefox and Chromium in one room: each decodes the other, chat both ways', { timeout: 120000 }, async (t) => {
  if (suite.skip) { t.skip(suite.skip); return; }
  const { ff, browser: chromium } = suite;
  const srv = await startServer(['-v']);
  t.after(() => srv.stop());
  const c = await openPage(chromium, `${srv.url}/room/mix?name=chrome&autojoin=1`);
  t.after(() => c.context().close().catch(() => {}));
  await waitFor(c, () => window.rv && window.rv.state === 'joined', null, 15000, 'Chromium to join');
  await ff.navigate(`${srv.url}/room/mix?name=fox&autojoin=1`);
  await ffWait(ff, () => window.rv && window.rv.state === 'joined', null, 20000, 'Firefox to join');

  await ffWait(ff, framesFrom, 'chrome', 30000, 'Firefox to connect to Chromium\'s stream');
  const f0 = await ff.exec(framesFrom, 'chrome');
  await until(async () => (await ff.exec(framesFrom, 'chrome')) > f0 + 10, 30000, 'Firefox to decode Chromium');
  await waitFor(c, () => window.rv.viewers.has('fox') && window.rv.viewers.get('fox').connectionState === 'connected', null, 30000, 'Chromium to connect to Firefox\'s stream');
  const c0 = await c.evaluate(framesFrom, 'fox');
  await until(async () => (await c.evaluate(framesFrom, 'fox')) > c0 + 10, 30000, 'Chromium to decode Firefox');

  await ff.exec(() => window.rv.say('hello from firefox'));
  await waitFor(c, () => window.rv.chat.some((m) => m.from === 'fox' && m.text === 'hello from firefox'), null, 10000, 'Chromium to get Firefox\'s line');
  await c.evaluate(() => window.rv.say('hello from chromium'));
  await ffWait(ff, () => window.rv.chat.some((m) => m.from === 'chrome' && m.text === 'hello from chromium'), null, 10000, 'Firefox to get Chromium\'s line');

  // an ICE restart by PATCH from Firefox: new credentials, the same session; Chromium goes on decoding
  assert.equal(await ff.exec(() => window.rv.iceRestart()), true, await ff.exec(() => window.rv.error));
  await until(() => /webrtc fox: ICE restart done: checks come with the new credentials/.test(srv.log()), 15000,
    'Firefox to check with the new credentials');
  const c1 = await c.evaluate(framesFrom, 'fox');
  await until(async () => (await c.evaluate(framesFrom, 'fox')) > c1 + 10, 30000, 'Chromium to decode Firefox after its restart');

  const shot = await ff.send('WebDriver:TakeScreenshot', { full: false }, 30000);
  const png = Buffer.from(shot.value, 'base64');
  assert.ok(png.length > 1000 && png.subarray(1, 4).toString() === 'PNG', 'Firefox gives a PNG screenshot');
  fs.writeFileSync(path.join(SHOTS, 'conference-firefox.png'), png);
  await c.screenshot({ path: path.join(SHOTS, 'conference-firefox-peer.png') });
});
