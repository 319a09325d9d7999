// firefox.test.mjs - the rvsignal room page in Debian's firefox-esr, driven
// through its built-in Marionette protocol (firefox.mjs), calling headless
// Chromium (playwright-core, helpers.mjs) and itself: real rvsignal, fake
// camera and microphone, all on 127.0.0.1. Skipped when firefox-esr is not
// installed or does not start. Run by tests/browser/run.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSignal, openPage, waitFor, framesDecoded, allConnected, sleep, until,
} from './helpers.mjs';
import { firefoxSuite, ffWait } from './firefox.mjs';

const suite = firefoxSuite({ chromium: true });

async function server(args = []) {
  const s = await startSignal(args);
  suite.cleanups.push(() => s.stop());
  return s;
}

async function page(url) {
  const p = await openPage(suite.browser, url);
  suite.cleanups.push(() => p.context().close());
  return p;
}

// In the Firefox page: WANT peers, each RTCPeerConnection "connected".
function ffAllConnected(want) {
  const rv = window.rv;
  if (!rv || rv.state !== 'joined' || rv.peers.size !== want) return false;
  for (const pc of rv.peers.values()) if (pc.connectionState !== 'connected') return false;
  return true;
}

// In the Firefox page: framesDecoded of the inbound video, per peer connection.
async function ffFramesPerPeer() {
  const out = [];
  for (const pc of window.rv.peers.values()) {
    let n = 0;
    (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
    out.push(n);
  }
  return out;
}

const ffFrames = async () => (await suite.ff.exec(ffFramesPerPeer)).reduce((a, b) => a + b, 0);

// Chat typed into the Firefox page's form, as a user would send it.
function ffChat(text) {
  return suite.ff.exec((t) => {
    const i = document.getElementById('chat-input');
    i.value = t;
    document.querySelector('#chat-form button').click();
    return true;
  }, text);
}

// The Firefox-Chromium call shared by the tests below.
let call = null;
async function mixedCall() {
  if (call) return call;
  const s = await server();
  // Chromium is in the room first: the Firefox newcomer makes the offer.
  const c = await page(`${s.url}/room/fx?name=Chrome&autojoin=1`);
  await waitFor(c, () => window.rv && window.rv.state === 'joined', null, 15000, 'Chrome to join fx');
  await suite.ff.navigate(`${s.url}/room/fx?name=Fox&autojoin=1`);
  await ffWait(suite.ff, () => window.rv && window.rv.state === 'joined', null, 15000, 'Fox to join fx');
  call = { s, c };
  return call;
}

test('Firefox and Chromium in one room: connected both ways, video decoded both ways', { timeout: 90000 }, async (t) => {
  if (suite.skip) { t.skip(suite.skip); return; }
  const { c } = await mixedCall();
  await ffWait(suite.ff, ffAllConnected, 1, 30000, 'Fox connected to one peer');
  await waitFor(c, allConnected, 1, 30000, 'Chrome connected to one peer');
  const idf = await suite.ff.exec(() => window.rv.id);
  const idc = await c.evaluate(() => window.rv.id);
  assert.match(idf, /^p-/);
  assert.notEqual(idf, idc);
  assert.deepEqual(await suite.ff.exec(() => [...window.rv.peers.keys()]), [idc]);
  assert.deepEqual(await c.evaluate(() => [...window.rv.peers.keys()]), [idf]);
  assert.equal(await suite.ff.exec(() => document.querySelector('.tile:not(.local) .who').textContent), 'Chrome');
  assert.equal(await c.locator('.tile:not(.local) .who').textContent(), 'Fox');
  // Video: Firefox decodes Chromium's, Chromium decodes Firefox's, and it keeps flowing.
  const nf = await until(async () => (await ffFrames()) || 0, 20000, 'Fox to decode a video frame');
  const nc = await until(async () => (await framesDecoded(c)) || 0, 20000, 'Chrome to decode a video frame from Firefox');
  await sleep(1500);
  assert.ok(await ffFrames() > nf, 'video keeps flowing to Firefox');
  assert.ok(await framesDecoded(c) > nc, 'video keeps flowing to Chromium');
  await ffWait(suite.ff, () => {
    const v = document.querySelector('.tile:not(.local) video');
    return v && v.videoWidth > 0 && v.readyState >= 2 && !v.paused;
  }, null, 10000, 'Fox\'s remote <video> playing');
  await waitFor(c, () => {
    const v = document.querySelector('.tile:not(.local) video');
    return v && v.videoWidth > 0 && v.readyState >= 2 && !v.paused;
  }, null, 10000, 'Chrome\'s remote <video> playing');
});

test('chat between Firefox and Chromium goes both ways with the sender name', { timeout: 30000 }, async (t) => {
  if (suite.skip) { t.skip(suite.skip); return; }
  const { c } = await mixedCall();
  const idf = await suite.ff.exec(() => window.rv.id);
  const idc = await c.evaluate(() => window.rv.id);
  await ffChat('hello from firefox <i>x</i>');
  await waitFor(c, () => window.rv.chat.some((m) => m.text === 'hello from firefox <i>x</i>'), null, 10000, 'Chrome to receive Fox\'s chat');
  await c.fill('#chat-input', 'hello from chromium');
  await c.press('#chat-input', 'Enter');
  await ffWait(suite.ff, () => window.rv.chat.some((m) => m.text === 'hello from chromium'), null, 10000, 'Fox to receive Chrome\'s chat');
  const gotC = await c.evaluate(() => window.rv.chat.at(-1));
  assert.equal(gotC.from, idf);
  assert.equal(gotC.name, 'Fox');
  const gotF = await suite.ff.exec(() => window.rv.chat[window.rv.chat.length - 1]);
  assert.equal(gotF.from, idc);
  assert.equal(gotF.name, 'Chrome');
  assert.match(await suite.ff.exec(() => [...document.querySelectorAll('#chat-log li')].map((li) => li.textContent).join('\n')),
    /^Chrome:\s*hello from chromium$/m);
  assert.match(await c.locator('#chat-log li', { hasText: 'hello from firefox' }).textContent(), /^Fox:\s*hello from firefox <i>x<\/i>$/);
  // Firefox's own message is shown, not echoed back by the server.
  assert.equal(await suite.ff.exec(() => window.rv.chat.filter((m) => m.text.startsWith('hello from firefox')).length), 0);
});

test('a Chromium newcomer offers to Firefox: Firefox answers, a mesh of three', { timeout: 90000 }, async (t) => {
  if (suite.skip) { t.skip(suite.skip); return; }
  const { s, c } = await mixedCall();
  const c2 = await page(`${s.url}/room/fx?name=Chrome2&autojoin=1`);
  await waitFor(c2, allConnected, 2, 30000, 'Chrome2 connected to 2 peers');
  await ffWait(suite.ff, ffAllConnected, 2, 30000, 'Fox connected to 2 peers');
  await waitFor(c, allConnected, 2, 30000, 'Chrome connected to 2 peers');
  const per = await until(async () => {
    const p = await suite.ff.exec(ffFramesPerPeer);
    return p.length === 2 && p.every((n) => n > 0) && p;
  }, 20000, 'Fox to decode video from both Chromium pages');
  assert.equal(per.length, 2);
  const idf = await suite.ff.exec(() => window.rv.id);
  await until(async () => {
    const n = await c2.evaluate(async (id) => {
      const pc = window.rv.peers.get(id);
      let f = 0;
      if (pc) (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') f += r.framesDecoded || 0; });
      return f;
    }, idf);
    return n > 0;
  }, 20000, 'Chrome2 to decode video from Firefox');
  assert.equal(await suite.ff.exec(() => document.querySelectorAll('.tile:not(.local)').length), 2);
  // Chrome2 leaves: Firefox drops its tile and keeps the call with Chrome.
  await c2.click('#leave-btn');
  await ffWait(suite.ff, () => window.rv.peers.size === 1 && document.querySelectorAll('.tile:not(.local)').length === 1,
    null, 10000, 'Fox to drop Chrome2');
  await ffWait(suite.ff, ffAllConnected, 1, 5000, 'Fox still connected to Chrome');
});

test('two Firefox windows call each other', { timeout: 90000 }, async (t) => {
  if (suite.skip) { t.skip(suite.skip); return; }
  const s = await server();
  const first = await suite.ff.handle();
  await suite.ff.navigate(`${s.url}/room/ff2?name=FoxA&autojoin=1`);
  await ffWait(suite.ff, () => window.rv && window.rv.state === 'joined', null, 15000, 'FoxA to join');
  const second = await suite.ff.newWindow('window');
  await suite.ff.switchTo(second);
  await suite.ff.navigate(`${s.url}/room/ff2?name=FoxB&autojoin=1`);
  try {
    await ffWait(suite.ff, ffAllConnected, 1, 30000, 'FoxB connected');
    await until(async () => (await ffFrames()) > 0, 20000, 'FoxB to decode video from FoxA');
    assert.equal(await suite.ff.exec(() => document.querySelector('.tile:not(.local) .who').textContent), 'FoxA');
    await ffChat('b to a');
    await suite.ff.switchTo(first);
    await ffWait(suite.ff, ffAllConnected, 1, 30000, 'FoxA connected');
    await until(async () => (await ffFrames()) > 0, 20000, 'FoxA to decode video from FoxB');
    assert.equal(await suite.ff.exec(() => document.querySelector('.tile:not(.local) .who').textContent), 'FoxB');
    await ffWait(suite.ff, () => window.rv.chat.some((m) => m.text === 'b to a' && m.name === 'FoxB'), null, 10000, 'FoxA to get FoxB\'s chat');
    await ffChat('a to b');
    await suite.ff.switchTo(second);
    await ffWait(suite.ff, () => window.rv.chat.some((m) => m.text === 'a to b' && m.name === 'FoxA'), null, 10000, 'FoxB to get FoxA\'s chat');
  } finally {
    await suite.ff.switchTo(second).catch(() => {});
    await suite.ff.send('WebDriver:CloseWindow', {}).catch(() => {});
    await suite.ff.switchTo(first).catch(() => {});
  }
});
