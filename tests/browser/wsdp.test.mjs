// wsdp.test.mjs - browsers accept rvserver's SDP answers: headless Chromium
// and Firefox ESR make WHIP, WHEP, video-only and data-channel offers
// (wsdp-offers.mjs), `test_wsdp answer` (lib/wsdp.h, built by `make units`)
// answers them, and setRemoteDescription must take the answer with the
// directions and codecs it says. No media flows (no server). Run by run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, launchBrowser } from './helpers.mjs';
import { firefoxMissing, launchFirefox } from './firefox.mjs';
import { pageOffer } from './wsdp-offers.mjs';

const ANSWER = process.env.WSDP_ANSWER || path.join(ROOT, 'build', 'tests', 'test_wsdp');

// The role, the video preference and what the browser must end up with.
const CASES = [
  { kind: 'whip', role: 'whip', video: 'VP8', dirs: ['sendonly', 'sendonly'] },
  { kind: 'whip', role: 'whip', video: 'H264', dirs: ['sendonly', 'sendonly'], h264: true },
  { kind: 'whep', role: 'whep', video: 'VP8', dirs: ['recvonly', 'recvonly'] },
  { kind: 'whep', role: 'whep', video: 'H264', dirs: ['recvonly', 'recvonly'], h264: true },
  { kind: 'video', role: 'whip', video: 'VP8', dirs: ['sendonly'] },
  { kind: 'datachannel', role: 'whip', video: 'VP8', dirs: ['sendonly', 'sendonly'], dc: true },
  { kind: 'simulcast', role: 'whip', video: 'VP8', dirs: ['sendonly', 'sendonly'] },
];

function answer(offer, role, video) {
  const r = spawnSync(ANSWER, ['answer', role, video], { input: offer, encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `test_wsdp answer ${role} ${video}: ${r.stderr}`);
  return r.stdout;
}

// Runs in the page: apply the answer to window.wsdpPc; what the browser made of it.
async function pageApply(sdp) {
  const pc = window.wsdpPc;
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (e) {
    return { error: `${e.name}: ${e.message}` };
  }
  return {
    state: pc.signalingState,
    dirs: pc.getTransceivers().map((t) => t.currentDirection),
    sctp: !!pc.sctp,
  };
}

async function check(run, c) {
  const offer = await run(pageOffer, c.kind, true);
  const sdp = answer(offer, c.role, c.video);
  const got = await run(pageApply, sdp);
  assert.ok(!got.error, `${c.kind} ${c.video}: setRemoteDescription: ${got.error}\n${sdp}`);
  assert.equal(got.state, 'stable');
  assert.deepEqual(got.dirs, c.dirs);
  if (c.dc) assert.equal(got.sctp, false, 'the data channel m= line is rejected');
  assert.match(sdp, c.h264 ? /a=rtpmap:\d+ H264\/90000/ : /a=rtpmap:\d+ VP8\/90000/);
}

let skip = fs.existsSync(ANSWER) ? null : `${ANSWER} not built (make units)`;
let browser = null;
let page = null;

before(async () => {
  if (skip) return;
  browser = await launchBrowser();
  page = await (await browser.newContext()).newPage();
});
after(async () => { if (browser) await browser.close().catch(() => {}); });

test('Chromium accepts the WHIP and WHEP answers (VP8, H.264 42e01f, video only, data channel rejected, simulcast declined)',
  { timeout: 60000 }, async (t) => {
    if (skip) { t.skip(skip); return; }
    await page.goto('about:blank');
    for (const c of CASES) {
      await check((fn, ...a) => page.evaluate(([f, args]) => {
        // eslint-disable-next-line no-new-func
        return new Function(`return (${f}).apply(null, arguments)`)(...args);
      }, [fn.toString(), a]), c);
    }
  });

test('Firefox ESR accepts the WHIP and WHEP answers (VP8: Debian builds it without H.264)',
  { timeout: 90000 }, async (t) => {
    const why = skip || firefoxMissing();
    if (why) { t.skip(why); return; }
    const ff = await launchFirefox();
    try {
      await ff.navigate('about:blank');
      for (const c of CASES.filter((x) => !x.h264)) {
        await check((fn, ...a) => ff.exec(fn, ...a), c);
      }
    } finally {
      await ff.stop();
    }
  });
