// room.test.mjs - the rvsignal room page in headless Chromium: real rvsignal,
// real browsers (fake camera and microphone), real coturn, all on 127.0.0.1.
// Run by tests/browser/run.sh: node --test --test-reporter=tap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  startSignal, startCoturn, launchBrowser, openPage, waitFor, framesDecoded,
  selectedPairs, allConnected, tmpdir, have, sleep, until,
} from './helpers.mjs';

const SHOT = process.env.RV_SCREENSHOT || '/tmp/room.png';
let browser;
const cleanups = [];

before(async () => { browser = await launchBrowser(); });
after(async () => {
  for (const f of cleanups.reverse()) { try { await f(); } catch { /* best effort */ } }
  if (browser) await browser.close().catch(() => {});
});

async function server(args) {
  const s = await startSignal(args);
  cleanups.push(() => s.stop());
  return s;
}

async function page(url) {
  const p = await openPage(browser, url);
  cleanups.push(() => p.context().close());
  return p;
}

function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'] || '', body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

// The two-peer call shared by the tests below (made by the first that needs it).
let call = null;
async function twoPeers() {
  if (call) return call;
  const s = await server([]);
  const a = await page(`${s.url}/room/t1?name=Alice&autojoin=1`);
  await waitFor(a, () => window.rv && window.rv.state === 'joined', null, 15000, 'Alice to join t1');
  const b = await page(`${s.url}/room/t1?name=Bob&autojoin=1`);
  call = { s, a, b };
  return call;
}

test('rvsignal serves the room page at / and /room/NAME, and its assets', { timeout: 30000 }, async () => {
  const s = await server([]);
  for (const p of ['/', '/room/lobby', '/room/t1?name=x']) {
    const r = await get(s.url + p);
    assert.equal(r.status, 200, `GET ${p}`);
    assert.match(r.type, /text\/html/, `GET ${p} content type`);
    assert.match(r.body, /<script src="\/room\.js">/, `GET ${p} is room.html`);
  }
  const js = await get(s.url + '/room.js');
  assert.equal(js.status, 200);
  assert.match(js.type, /javascript/);
  const css = await get(s.url + '/room.css');
  assert.equal(css.status, 200);
  assert.match(css.type, /text\/css/);
  const page0 = await get(s.url + '/');
  assert.doesNotMatch(page0.body + js.body + css.body, /(src|href)="(https?:)?\/\/|url\(|@import|https?:\/\/(?!127\.)/, 'no external resources');
});

test('two browsers join a room and connect to each other', { timeout: 60000 }, async () => {
  const { a, b } = await twoPeers();
  await waitFor(a, allConnected, 1, 30000, 'Alice connected to one peer');
  await waitFor(b, allConnected, 1, 30000, 'Bob connected to one peer');
  const ida = await a.evaluate(() => window.rv.id);
  const idb = await b.evaluate(() => window.rv.id);
  assert.match(ida, /^p-/);
  assert.notEqual(ida, idb);
  assert.deepEqual(await a.evaluate(() => [...window.rv.peers.keys()]), [idb]);
  assert.deepEqual(await b.evaluate(() => [...window.rv.peers.keys()]), [ida]);
  // Each side shows the other's name on the remote tile.
  assert.equal(await a.locator('.tile:not(.local) .who').textContent(), 'Bob');
  assert.equal(await b.locator('.tile:not(.local) .who').textContent(), 'Alice');
});

// What the tiles of PAGE cover: the video area (#tiles) and every tile's box.
function tileCover(p) {
  return p.evaluate(() => {
    const c = document.getElementById('tiles').getBoundingClientRect();
    const tiles = [...document.querySelectorAll('#tiles .tile')].map((t) => {
      const r = t.getBoundingClientRect();
      return { x: r.x, y: r.y, w: r.width, h: r.height, fit: getComputedStyle(t.querySelector('video')).objectFit };
    });
    const area = tiles.reduce((a, t) => a + t.w * t.h, 0);
    return { container: { x: c.x, y: c.y, w: c.width, h: c.height }, tiles, share: area / (c.width * c.height) };
  });
}

test('with two people the tiles use the video area, whatever its size', { timeout: 60000 }, async () => {
  const { a } = await twoPeers();
  for (const [w, h] of [[1100, 640], [1600, 900], [1280, 1000]]) {
    await a.setViewportSize({ width: w, height: h });
    await waitFor(a, (vw) => document.querySelectorAll('#tiles .tile').length === 2 && window.innerWidth === vw,
      w, 15000, `two tiles at ${w}x${h}`);
    await sleep(300);	// the ResizeObserver's turn
    const m = await tileCover(a);
    const why = `${w}x${h}: ${JSON.stringify(m)}`;
    assert.ok(m.share >= 0.6, `the two tiles cover ${(m.share * 100).toFixed(0)}% of the video area (want >= 60%): ${why}`);
    for (const t of m.tiles) {
      const c = m.container;
      assert.ok(t.x >= c.x - 1 && t.y >= c.y - 1 && t.x + t.w <= c.x + c.w + 1 && t.y + t.h <= c.y + c.h + 1,
        `a tile lies outside the video area (it would scroll): ${why}`);
      assert.ok(t.w / t.h >= 0.99 && t.w / t.h <= 16 / 9 + 0.01, `tile shape ${t.w}x${t.h}: ${why}`);
      assert.notEqual(t.fit, 'fill', 'video is never stretched');
    }
    assert.equal(Math.round(m.tiles[0].w), Math.round(m.tiles[1].w), 'both tiles the same size');
  }
  await a.setViewportSize({ width: 1100, height: 640 });
});

test('the page has its own icon: no favicon request, no 404 in the console', { timeout: 60000 }, async () => {
  const { a, b } = await twoPeers();
  await waitFor(b, () => window.rv && window.rv.state === 'joined', null, 15000, 'Bob joined');
  await sleep(500);
  for (const [who, p] of [['Alice', a], ['Bob', b]]) {
    const bad = p.rvLog.filter((l) => /404|Failed to load resource/i.test(l));
    assert.deepEqual(bad, [], `${who}'s console shows a failed load`);
    const icon = await p.evaluate(async () => {
      const l = document.querySelector('link[rel~="icon"]');
      if (!l) return null;
      const img = new Image();
      img.src = l.href;
      try { await img.decode(); } catch (e) { return { href: l.href.slice(0, 40), error: String(e) }; }
      return { href: l.href.slice(0, 40), width: img.naturalWidth };
    });
    assert.ok(icon, `${who}: the page links an icon`);
    assert.match(icon.href, /^data:image\/svg\+xml,/, 'the icon is inline (no request, no route)');
    assert.ok(icon.width > 0, `the icon decodes as an image: ${JSON.stringify(icon)}`);
  }
});

test('video is decoded both ways and keeps flowing', { timeout: 60000 }, async () => {
  const { a, b } = await twoPeers();
  await waitFor(a, allConnected, 1, 30000, 'Alice connected');
  await waitFor(b, allConnected, 1, 30000, 'Bob connected');
  for (const [who, p] of [['Alice', a], ['Bob', b]]) {
    const until = Date.now() + 20000;
    let n = 0;
    while ((n = await framesDecoded(p)) === 0 && Date.now() < until) await sleep(250);
    assert.ok(n > 0, `${who} decoded no video frame in 20 s`);
    await sleep(1500);
    const m = await framesDecoded(p);
    assert.ok(m > n, `${who}: framesDecoded did not grow (${n} -> ${m})`);
    // The remote tile's <video> plays real pixels.
    await waitFor(p, () => {
      const v = document.querySelector('.tile:not(.local) video');
      return v && v.videoWidth > 0 && v.readyState >= 2 && !v.paused;
    }, null, 10000, `${who}'s remote <video> playing`);
  }
  await a.screenshot({ path: SHOT });
});

test('chat is delivered both ways with the sender name', { timeout: 30000 }, async () => {
  const { a, b } = await twoPeers();
  await waitFor(b, () => window.rv && window.rv.state === 'joined', null, 15000, 'Bob joined');
  await a.fill('#chat-input', 'hello from alice <b>not bold</b>');
  await a.press('#chat-input', 'Enter');
  await waitFor(b, () => window.rv.chat.some((m) => m.text === 'hello from alice <b>not bold</b>'), null, 10000, 'Bob to receive the chat');
  await b.fill('#chat-input', 'hi alice');
  await b.click('#chat-form button');
  await waitFor(a, () => window.rv.chat.some((m) => m.text === 'hi alice'), null, 10000, 'Alice to receive the chat');
  const ida = await a.evaluate(() => window.rv.id);
  const idb = await b.evaluate(() => window.rv.id);
  const gotB = await b.evaluate(() => window.rv.chat.at(-1));
  assert.equal(gotB.from, ida);
  assert.equal(gotB.name, 'Alice');
  const gotA = await a.evaluate(() => window.rv.chat.at(-1));
  assert.equal(gotA.from, idb);
  assert.equal(gotA.name, 'Bob');
  // Shown with the sender's name, as text (no markup injection).
  const line = b.locator('#chat-log li', { hasText: 'hello from alice' });
  assert.match(await line.textContent(), /^Alice:\s*hello from alice <b>not bold<\/b>$/);
  assert.equal(await b.locator('#chat-log li b').count(), 0);
  // Own messages are not echoed back by the server.
  assert.equal(await a.evaluate(() => window.rv.chat.filter((m) => m.text.startsWith('hello from alice')).length), 0);
  await a.screenshot({ path: SHOT });
});

test('a lost signalling connection is resumed: same id, the call and the chat go on', { timeout: 60000 }, async () => {
  const { a, b } = await twoPeers();
  await waitFor(a, allConnected, 1, 30000, 'Alice connected');
  const ida = await a.evaluate(() => window.rv.id);
  const old = await a.evaluate(() => { const w = window.rv.ws; w.close(4000, 'test drop'); return true; });
  assert.ok(old);
  await waitFor(a, () => window.rv.ws && window.rv.ws.readyState === 1 && window.rv.state === 'joined', null, 15000, 'Alice to reconnect');
  assert.equal(await a.evaluate(() => window.rv.id), ida, 'the same id after resuming');
  await b.evaluate(() => window.rv.send({ type: 'chat', room: window.rv.room, text: 'still there?' }));
  await waitFor(a, () => window.rv.chat.some((m) => m.text === 'still there?'), null, 10000, 'Alice to get chat after resuming');
  await a.evaluate(() => window.rv.send({ type: 'chat', room: window.rv.room, text: 'yes' }));
  await waitFor(b, () => window.rv.chat.some((m) => m.text === 'yes'), null, 10000, 'Bob to get chat from the resumed Alice');
  assert.equal(await b.evaluate(() => window.rv.peers.size), 1, 'Bob kept the call (no "left")');
  assert.equal(await a.evaluate(() => [...window.rv.peers.values()][0].connectionState), 'connected');
});

// Aspect ratio of the video that PAGE receives (frameWidth/frameHeight).
function inboundAspect(p) {
  return p.evaluate(async () => {
    for (const pc of window.rv.peers.values()) {
      const st = await pc.getStats();
      let r = 0;
      st.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video' && x.frameHeight) r = x.frameWidth / x.frameHeight; });
      return r;
    }
    return 0;
  });
}

test('screen sharing replaces the video on every sender, then goes back to the camera', { timeout: 60000 }, async (t) => {
  const { a, b } = await twoPeers();
  await waitFor(a, allConnected, 1, 30000, 'Alice connected');
  const camLabel = await a.evaluate(() => [...window.rv.peers.values()][0].getSenders().find((s) => s.track && s.track.kind === 'video').track.label);
  await a.click('#share-btn');
  try {
    await waitFor(a, () => window.rv.sharing === true, null, 10000, 'screen sharing to start');
  } catch (e) {
    const chat = await a.locator('#chat-log').textContent();
    if (/not started|not supported/.test(chat)) { t.skip(`getDisplayMedia unavailable here: ${chat.slice(-120)}`); return; }
    throw e;
  }
  const shareLabel = await a.evaluate(() => [...window.rv.peers.values()][0].getSenders().find((s) => s.track && s.track.kind === 'video').track.label);
  assert.notEqual(shareLabel, camLabel, 'the sender now carries the screen track');
  assert.equal(await a.locator('#share-btn').getAttribute('aria-pressed'), 'true');
  // Bob now receives the 16:9 screen instead of the 4:3 camera, without renegotiation.
  await until(async () => (await inboundAspect(b)) > 1.6, 20000, 'Bob to receive 16:9 screen video');
  const before = await framesDecoded(b);
  await sleep(1000);
  assert.ok(await framesDecoded(b) > before, 'screen video keeps flowing to Bob');
  await a.click('#share-btn');
  await waitFor(a, () => window.rv.sharing === false, null, 10000, 'screen sharing to stop');
  const backLabel = await a.evaluate(() => [...window.rv.peers.values()][0].getSenders().find((s) => s.track && s.track.kind === 'video').track.label);
  assert.equal(backLabel, camLabel, 'back to the camera track');
  await until(async () => { const r = await inboundAspect(b); return r > 1 && r < 1.5; }, 20000, 'Bob to receive the 4:3 camera again');
  const again = await framesDecoded(b);
  await sleep(1000);
  assert.ok(await framesDecoded(b) > again, 'camera video keeps flowing to Bob');
});

test('Leave closes the call; the other side removes the tile', { timeout: 30000 }, async () => {
  const { a, b } = await twoPeers();
  await waitFor(a, allConnected, 1, 30000, 'Alice connected');
  await b.click('#leave-btn');
  await waitFor(b, () => window.rv.state === 'left' && window.rv.peers.size === 0 && !document.getElementById('join').hidden,
    null, 10000, 'Bob to leave');
  await waitFor(a, () => window.rv.peers.size === 0 && document.querySelectorAll('.tile:not(.local)').length === 0,
    null, 10000, 'Alice to drop Bob\'s tile');
  assert.equal(await a.evaluate(() => window.rv.state), 'joined', 'Alice stays in the room');
  assert.match(await a.locator('#chat-log').textContent(), /Bob left/);
  // Join again from the same page: a new session, a new call.
  await b.click('#join-btn');
  await waitFor(b, allConnected, 1, 30000, 'Bob connected again after rejoining');
  await waitFor(a, allConnected, 1, 30000, 'Alice connected to the rejoined Bob');
});

test('three browsers form a full mesh', { timeout: 90000 }, async () => {
  const s = await server([]);
  const pages = [];
  for (const n of ['P1', 'P2', 'P3']) {
    const p = await page(`${s.url}/room/mesh?name=${n}&autojoin=1`);
    await waitFor(p, () => window.rv && window.rv.state === 'joined', null, 15000, `${n} to join`);
    pages.push(p);
  }
  for (const [i, p] of pages.entries()) await waitFor(p, allConnected, 2, 40000, `P${i + 1} connected to 2 peers`);
  for (const [i, p] of pages.entries()) {
    const until = Date.now() + 20000;
    let per = [];
    while (Date.now() < until) {
      per = await p.evaluate(async () => {
        const out = [];
        for (const pc of window.rv.peers.values()) {
          let n = 0;
          (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
          out.push(n);
        }
        return out;
      });
      if (per.length === 2 && per.every((n) => n > 0)) break;
      await sleep(300);
    }
    assert.ok(per.length === 2 && per.every((n) => n > 0), `P${i + 1} decodes video from both others: ${per}`);
    assert.equal(await p.locator('.tile:not(.local)').count(), 2);
  }
  // A "bye" ends one call of the mesh: P1 hangs up on P3.
  const [p1, p2, p3] = pages;
  const id1 = await p1.evaluate(() => window.rv.id);
  const id3 = await p3.evaluate(() => window.rv.id);
  await p3.evaluate((to) => window.rv.send({ type: 'bye', to }), id1);
  await waitFor(p1, (gone) => !window.rv.peers.has(gone) && window.rv.peers.size === 1 &&
    !document.querySelector(`.tile[data-peer="${gone}"]`), id3, 10000, 'P1 to drop P3 after its bye');
  assert.equal(await p2.evaluate(() => window.rv.peers.size), 2, 'P2 keeps both calls');
  for (const p of pages) await p.context().close();
});

test('a full room (--max-peers 1) shows the room-full message', { timeout: 30000 }, async () => {
  const s = await server(['--max-peers', '1']);
  const a = await page(`${s.url}/room/small?name=A&autojoin=1`);
  await waitFor(a, () => window.rv && window.rv.state === 'joined', null, 15000, 'A to join');
  const b = await page(`${s.url}/room/small?name=B&autojoin=1`);
  await waitFor(b, () => window.rv && window.rv.state === 'full', null, 15000, 'B to see room-full');
  assert.ok(await b.locator('#notice').isVisible(), 'the notice is shown');
  assert.match(await b.locator('#notice').textContent(), /full/i);
  assert.equal(await b.evaluate(() => window.rv.peers.size), 0);
  assert.ok(await b.locator('#join').isVisible(), 'back at the join form');
  assert.equal(await a.evaluate(() => window.rv.peers.size), 0, 'A got no peer');
});

test('a join the admission hook refuses shows the denied message', { timeout: 30000 }, async () => {
  const s = await server(['--on-join', 'echo members only; exit 1']);
  const a = await page(`${s.url}/room/club?name=A&autojoin=1`);
  await waitFor(a, () => window.rv && window.rv.state === 'denied', null, 15000, 'A to be denied');
  assert.ok(await a.locator('#notice').isVisible());
  assert.match(await a.locator('#notice').textContent(), /members only/);
});

function jwt(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64(claims);
  return head + '.' + crypto.createHmac('sha256', secret).update(head).digest('base64url');
}

test('with --token-secret-file the page joins with a token from the query or the fragment, and is denied without', { timeout: 30000 }, async () => {
  const secret = 'jwt-secret-' + Math.random().toString(36).slice(2);
  const sf = path.join(tmpdir(), 'token-secret');
  fs.writeFileSync(sf, secret, { mode: 0o600 });
  const s = await server(['--token-secret-file', sf]);
  const exp = Math.floor(Date.now() / 1000) + 600;
  const none = await page(`${s.url}/room/vip?name=N&autojoin=1`);
  await waitFor(none, () => window.rv && window.rv.state === 'denied', null, 15000, 'no token: denied');
  assert.match(await none.locator('#notice').textContent(), /token/i);
  const other = await page(`${s.url}/room/vip?name=O&autojoin=1&token=${jwt(secret, { room: 'elsewhere', exp })}`);
  await waitFor(other, () => window.rv && window.rv.state === 'denied', null, 15000, 'token for another room: denied');
  const q = await page(`${s.url}/room/vip?name=Q&autojoin=1&token=${jwt(secret, { room: 'vip', exp })}`);
  await waitFor(q, () => window.rv && window.rv.state === 'joined', null, 15000, 'valid ?token=: joined');
  const h = await page(`${s.url}/room/vip?name=H&autojoin=1#token=${jwt(secret, { room: '*', exp })}`);
  await waitFor(h, () => window.rv && window.rv.state === 'joined', null, 15000, 'valid #token= (room *): joined');
  await waitFor(h, allConnected, 1, 30000, 'the two admitted pages connected');
});

test('relay only (?relay=1) through coturn with the TURN credentials rvsignal pushes', { timeout: 90000 }, async (t) => {
  if (!have('turnserver')) { t.skip('turnserver (coturn) not installed'); return; }
  const secret = 'rvkit-test-' + Math.random().toString(36).slice(2);
  const turn = await startCoturn(secret);
  cleanups.push(() => turn.stop());
  const dir = tmpdir();
  const sf = path.join(dir, 'turn-secret');
  fs.writeFileSync(sf, secret + '\n', { mode: 0o600 });
  const s = await server(['--ice', `turn:127.0.0.1:${turn.port}`, '--turn-secret-file', sf]);
  const a = await page(`${s.url}/room/relay?name=RA&autojoin=1&relay=1`);
  await waitFor(a, () => window.rv && window.rv.state === 'joined', null, 15000, 'RA to join');
  const ice = await a.evaluate(() => window.rv.iceServers);
  const turnEntry = ice.find((x) => [].concat(x.urls).some((u) => u.startsWith('turn:')));
  assert.ok(turnEntry, `welcome carries a turn: server: ${JSON.stringify(ice)}`);
  assert.match(turnEntry.username, /^\d+:/, 'TURN REST username is EXPIRY:ID');
  assert.ok(turnEntry.credential, 'a credential is pushed');
  const b = await page(`${s.url}/room/relay?name=RB&autojoin=1&relay=1`);
  try {
    await waitFor(a, allConnected, 1, 45000, 'RA connected over the relay');
    await waitFor(b, allConnected, 1, 45000, 'RB connected over the relay');
  } catch (e) {
    throw new Error(`${e.message}\ncoturn log tail:\n${turn.log().slice(-3000)}`);
  }
  for (const [who, p] of [['RA', a], ['RB', b]]) {
    const pairs = await selectedPairs(p);
    assert.equal(pairs.length, 1);
    assert.equal(pairs[0].local, 'relay', `${who} selected a relay candidate: ${JSON.stringify(pairs)}`);
    const until = Date.now() + 20000;
    while ((await framesDecoded(p)) === 0 && Date.now() < until) await sleep(250);
    assert.ok(await framesDecoded(p) > 0, `${who} decodes video through the relay`);
  }
});
