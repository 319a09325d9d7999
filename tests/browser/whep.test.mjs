// whep.test.mjs - WHEP from rvserver to headless Chromium: rvsend sends a
// test pattern and a tone into group "show" (H.264 by default, VP8 with
// --vcodec vp8); the browser POSTs a recvonly offer to /whep/show, as any
// WHEP player does, and must decode the video and play the audio. With
// --drop-rate the server loses packets on the viewer's leg, after its NACK
// cache: the browser's NACKs are answered from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, browserSuite, openPage, until, sleep } from './helpers.mjs';
import { watch, received, rvsendShow } from './whip.mjs';

const suite = browserSuite();
const cleanups = suite.cleanups;

for (const vcodec of ['h264', 'vp8']) {
  test(`Chromium watches rvsend's ${vcodec} and Opus by WHEP: frames decoded, audio played`, async () => {
    const srv = await startServer(['-v']);
    cleanups.push(() => srv.stop());
    const cam = await rvsendShow(srv, vcodec, cleanups);
    const page = await openPage(suite.browser, `${srv.url}/healthz`);
    cleanups.push(() => page.context().close());
    const w = await page.evaluate(watch, { url: `${srv.url}/whep/show` });
    assert.match(w.location, /^\/whep\/show\/[0-9a-f]{32}$/);
    assert.match(w.answer, /a=sendonly/);
    const logs = () => `\nrvserver: ${srv.log()}\nrvsend: ${cam.log()}`;
    const got = await until(async () => {
      const r = await received(page);
      return r.frames >= 30 && r.samples > 0 ? r : null;
    }, 15000, 'frames and samples').catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await received(page))}${logs()}`); });
    assert.equal(got.codec.toLowerCase(), `video/${vcodec}`);
    await sleep(1000);
    const later = await received(page);
    assert.ok(later.frames > got.frames, `frames stopped at ${later.frames}${logs()}`);
    const del = await fetch(`${srv.url}${w.location}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
  });
}

test('Chromium watching by WHEP on a lossy leg (--drop-rate 0.05): its NACKs are answered from the leg\'s cache', async (t) => {
  const srv = await startServer(['-v', '--drop-rate', '0.05']);
  cleanups.push(() => srv.stop());
  const cam = await rvsendShow(srv, 'vp8', cleanups);
  const page = await openPage(suite.browser, `${srv.url}/healthz`);
  cleanups.push(() => page.context().close());
  const w = await page.evaluate(watch, { url: `${srv.url}/whep/show` });
  const logs = () => `\nrvserver: ${srv.log()}\nrvsend: ${cam.log()}`;
  const stats = async () => (await (await fetch(`${srv.url}/stats`)).json()).webrtc;
  const got = await until(async () => {
    const r = await received(page);
    return r.frames >= 60 && r.nacks > 0 && (await stats()).retransmits > 0 ? r : null;
  }, 20000, 'frames, NACKs and retransmissions').catch(async (e) => {
    throw new Error(`${e.message}: ${JSON.stringify(await received(page))} ${JSON.stringify(await stats())}${logs()}`);
  });
  const s = await stats();
  t.diagnostic(`Chromium VP8 over a leg losing 5%: nackCount ${got.nacks}, packetsLost ${got.lost}, frames ${got.frames}; ` +
    `rvserver: ${s.nacks_in} NACKs in, ${s.retransmits} packets resent from the cache, ${s.nacks_to_sources} asked of the source, ${s.retransmits_limited} limited, ` +
    `${s.packets_out} sent`);
  assert.ok(s.retransmits > 0 && s.nacks_in > 0, JSON.stringify(s));
  const del = await fetch(`${srv.url}${w.location}`, { method: 'DELETE' });
  assert.equal(del.status, 200);
});
