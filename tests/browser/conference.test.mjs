// conference.test.mjs - rvserver's conference page (/room/GROUP) in headless
// Chromium: four browsers in one room decode each other (each publishes by
// WHIP and watches the other three by WHEP), chat reaches every browser and
// an `rvgroup join` shell and back, screen sharing replaces a tile, a fifth
// browser is told the room is full, and kill -9 of a browser removes its
// tile. A second test puts rvsend's test pattern in a browser's room and
// records the browsers with rvrecv; others: auth, TURN, a reload, and an ICE
// restart by PATCH. Screenshots go to RV_SCREENSHOT_DIR
// (default /tmp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  startServer, startTool, startCoturn, browserSuite, openPage, launchKillable, waitFor, until, sleep, tmpdir, have,
  RV_BIN,
} from './helpers.mjs';

const suite = browserSuite();
const SHOTS = process.env.RV_SCREENSHOT_DIR || '/tmp';

// A page in a context of its own, closed when test T ends.
async function page(t, browser, url) {
  const p = await openPage(browser, url);
  t.after(() => p.context().close().catch(() => {}));
  return p;
}

// In the page: per remote sender, its viewer's connection state and the
// video frames decoded and audio samples received so far.
function viewers(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const [from, pc] of window.rv.viewers) {
      const v = { state: pc.connectionState, frames: 0, samples: 0, width: 0, height: 0 };
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') {
          v.frames += r.framesDecoded || 0;
          v.width = r.frameWidth || 0;
          v.height = r.frameHeight || 0;
        }
        if (r.type === 'inbound-rtp' && r.kind === 'audio') v.samples += r.totalSamplesReceived || 0;
      });
      out[from] = v;
    }
    return out;
  });
}

// Every one of FROM decoded on PAGE: frames (and samples) grow from one
// look to the next.
async function decodes(page, from, what) {
  let last = {};
  await until(async () => {
    const now = await viewers(page);
    const ok = from.every((f) => now[f] && last[f] && now[f].frames > last[f].frames && now[f].frames > 10 &&
      now[f].samples > last[f].samples);
    last = now;
    return ok;
  }, 30000, what);
}

// The tile captions on PAGE, sorted.
function tileNames(page) {
  return page.evaluate(() => [...document.querySelectorAll('#tiles .tile:not(.local) .who')].map((e) => e.textContent).sort());
}

test('four browsers in a room: each decodes the other three, chat reaches all and a shell, screen share, room full, kill -9', { timeout: 240000 }, async (t) => {
  const srv = await startServer(['-v', '--max-group-members', '5', '--webrtc-consent-timeout', '10']);
  t.after(() => srv.stop());
  const shell = startTool('rvgroup', ['-s', `127.0.0.1:${srv.port}`, '-n', 'ops', 'join', 'show'], 'pipe');
  t.after(() => shell.stop());
  await until(() => /joined|show/.test(shell.log()) || /ops/.test(srv.log()), 10000, 'the shell to join');
  const names = ['alice', 'bob', 'carol', 'dave'];
  const killable = await launchKillable();
  t.after(() => killable.close());
  const pages = {};
  for (const n of names) {
    const b = n === 'dave' ? killable.browser : suite.browser;
    pages[n] = await page(t, b, `${srv.url}/room/show?name=${n}&autojoin=1`);
    await waitFor(pages[n], () => window.rv && window.rv.state === 'joined', null, 15000, `${n} to join`);
  }
  for (const n of names) {
    const others = names.filter((x) => x !== n);
    await waitFor(pages[n], (want) => want.every((f) => window.rv.viewers.has(f) &&
      window.rv.viewers.get(f).connectionState === 'connected'), others, 30000, `${n} to watch ${others}`);
    await decodes(pages[n], others, `${n} to decode ${others.join(', ')}`);
    assert.deepEqual(await tileNames(pages[n]), [...others, 'ops'].sort(), `${n}'s tiles: the others and the shell`);
  }
  await pages.alice.screenshot({ path: path.join(SHOTS, 'conference-chromium.png') });

  // chat: a browser to everyone, the shell to everyone
  await pages.alice.evaluate(() => window.rv.say('hello from alice'));
  for (const n of ['bob', 'carol', 'dave'])
    await waitFor(pages[n], () => window.rv.chat.some((m) => m.from === 'alice' && m.text === 'hello from alice'), null, 10000, `${n} to get alice's line`);
  await until(() => /hello from alice/.test(shell.log()), 10000, 'the shell to print alice\'s line');
  shell.child.stdin.write('hi from the shell\n');
  for (const n of names)
    await waitFor(pages[n], () => window.rv.chat.some((m) => m.from === 'ops' && m.text === 'hi from the shell'), null, 10000, `${n} to get the shell's line`);

  // screen sharing: bob's tile turns into his screen (16:9) elsewhere
  const before = (await viewers(pages.carol)).bob;
  await pages.bob.click('#share-btn');
  await waitFor(pages.bob, () => window.rv.sharing === true, null, 10000, 'bob to share his screen');
  await until(async () => {
    const v = (await viewers(pages.carol)).bob;
    return v.width && v.height && v.width / v.height > 1.6 && v.frames > before.frames;
  }, 20000, `carol to see bob's screen instead of his camera (was ${before.width}x${before.height})`);
  await pages.carol.screenshot({ path: path.join(SHOTS, 'conference-share.png') });

  // a fifth browser: the room is full (4 browsers and the shell)
  const eve = await page(t, suite.browser, `${srv.url}/room/show?name=eve&autojoin=1`);
  await waitFor(eve, () => window.rv.state === 'full', null, 15000, 'eve to be told the room is full');
  assert.match(await eve.locator('#notice').textContent(), /full/);
  assert.equal(await eve.evaluate(() => window.rv.publisher), null, 'eve publishes nothing');

  // kill -9 of dave's browser: his tile goes from the others within the consent timeout (10 s here)
  process.kill(killable.pid, 'SIGKILL');
  for (const n of ['alice', 'bob', 'carol'])
    await waitFor(pages[n], () => ![...document.querySelectorAll('#tiles .who')].some((e) => e.textContent === 'dave'), null, 25000, `dave's tile to go from ${n}`);
  assert.deepEqual(await tileNames(pages.alice), ['bob', 'carol', 'ops']);
  for (const n of ['alice', 'bob', 'carol'])
    assert.deepEqual(pages[n].rvLog.filter((l) => /pageerror/.test(l)), [], `${n}'s page threw nothing`);
});

test('rvsend\'s stream is a tile in the room; rvrecv records each browser to its own file', { timeout: 120000 }, async (t) => {
  const srv = await startServer(['-v']);
  t.after(() => srv.stop());
  const dir = tmpdir();
  const rec = startTool('rvrecv', ['-s', `127.0.0.1:${srv.port}`, '-n', 'rec', '-g', 'show', 'media', '-o', path.join(dir, '%s.mkv')]);
  t.after(() => rec.stop());
  const cam = startTool('rvsend', ['-s', `127.0.0.1:${srv.port}`, '-n', 'cam', '-g', 'show', 'media',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '--vcodec', 'vp8', '--duration', '60']);
  t.after(() => cam.stop());
  const a = await page(t, suite.browser, `${srv.url}/room/show?name=alice&autojoin=1`);
  await waitFor(a, () => window.rv && window.rv.state === 'joined', null, 15000, 'alice to join');
  await waitFor(a, () => window.rv.viewers.has('cam'), null, 15000, 'alice to watch cam');
  await decodes(a, ['cam'], 'alice to decode rvsend\'s pattern');
  assert.deepEqual(await tileNames(a), ['cam'].concat(await a.evaluate(() => [...window.rv.members].sort())).sort());
  await a.screenshot({ path: path.join(SHOTS, 'conference-rvsend.png') });
  await until(() => fs.existsSync(path.join(dir, 'alice.mkv')), 15000, 'rvrecv to record alice')
    .catch((e) => { throw new Error(`${e.message}: ${fs.readdirSync(dir)}; rvrecv: ${rec.log()}`); });
  await sleep(2000);
  await a.evaluate(() => window.rv.leave());
  await until(() => /stream-end|ended|left/.test(rec.log()) || !fs.existsSync(path.join(dir, 'alice.mkv.part')), 10000, 'the recording to end');
  await rec.stop();
  const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,nb_read_frames',
    '-of', 'json', path.join(dir, 'alice.mkv')], { encoding: 'utf8', timeout: 30000 });
  assert.equal(probe.status, 0, probe.stderr);
  const streams = JSON.parse(probe.stdout).streams;
  const video = streams.find((s) => s.codec_type === 'video');
  assert.ok(video && Number(video.nb_read_frames) > 30, `alice.mkv has video: ${probe.stdout}`);
  assert.ok(streams.some((s) => s.codec_type === 'audio'), `alice.mkv has audio: ${probe.stdout}`);
});

test('with --auth-secret-file the page joins, publishes and watches with its name\'s token, and is not admitted without', { timeout: 90000 }, async (t) => {
  const dir = tmpdir();
  const secret = path.join(dir, 'secret');
  fs.writeFileSync(secret, 'correct horse battery staple\n');
  const srv = await startServer(['-v', '--auth-secret-file', secret]);
  t.after(() => srv.stop());
  const token = (name) => {
    const r = spawnSync(path.join(RV_BIN, 'rvserver'), ['token', name, '--auth-secret-file', secret], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  const a = await page(t, suite.browser, `${srv.url}/room/vip?name=alice&autojoin=1#token=${token('alice')}`);
  const b = await page(t, suite.browser, `${srv.url}/room/vip?name=bob&autojoin=1#token=${token('bob')}`);
  await decodes(a, ['bob'], 'alice to decode bob');
  await decodes(b, ['alice'], 'bob to decode alice');
  const c = await page(t, suite.browser, `${srv.url}/room/vip?name=carol&autojoin=1`);
  await waitFor(c, () => window.rv.state === 'denied', null, 15000, 'carol, without a token, not to be admitted');
  assert.match(await c.locator('#notice').textContent(), /Not admitted/);
});

test('behind TURN: with ?relay=1 the page takes the ICE servers from the Link headers and reaches rvserver through coturn', { timeout: 90000 }, async (t) => {
  if (!have('turnserver')) { t.skip('no coturn (turnserver)'); return; }
  const secret = 'turn-' + process.pid;
  const turn = await startCoturn(secret);
  t.after(() => turn.stop());
  const sf = path.join(tmpdir(), 'turn-secret');
  fs.writeFileSync(sf, secret + '\n', { mode: 0o600 });
  const srv = await startServer(['-v', '--ice', `turn:127.0.0.1:${turn.port}?transport=udp`, '--turn-secret-file', sf]);
  t.after(() => srv.stop());
  const a = await page(t, suite.browser, `${srv.url}/room/far?name=alice&autojoin=1&relay=1`);
  const b = await page(t, suite.browser, `${srv.url}/room/far?name=bob&autojoin=1&relay=1`);
  await decodes(a, ['bob'], 'alice to decode bob through TURN');
  await decodes(b, ['alice'], 'bob to decode alice through TURN');
  const ice = await a.evaluate(() => window.rv.iceServers);
  assert.equal(ice.length, 1);
  assert.match(ice[0].username, /^\d+:alice$/, 'TURN REST username EXPIRY:ID');
  const types = await a.evaluate(async () => {
    const out = [];
    for (const pc of [window.rv.publisher, ...window.rv.viewers.values()]) {
      const st = await pc.getStats();
      st.forEach((r) => {
        if (r.type === 'transport' && r.selectedCandidatePairId) {
          const pair = st.get(r.selectedCandidatePairId);
          out.push(st.get(pair.localCandidateId).candidateType);
        }
      });
    }
    return out;
  });
  assert.deepEqual(types, ['relay', 'relay'], 'the publisher and the viewer go through coturn');
  assert.match(turn.log(), /127\.0\.0\.1/, 'coturn saw the allocations');
});

test('a page reloaded comes back: its old sessions end, the others see its new stream', { timeout: 90000 }, async (t) => {
  const srv = await startServer(['-v']);
  t.after(() => srv.stop());
  const a = await page(t, suite.browser, `${srv.url}/room/re?name=alice&autojoin=1`);
  const b = await page(t, suite.browser, `${srv.url}/room/re?name=bob&autojoin=1`);
  await decodes(a, ['bob'], 'alice to decode bob');
  await b.reload();
  await waitFor(b, () => window.rv && window.rv.state === 'joined' && window.rv.viewers.has('alice'), null, 20000, 'bob to be back');
  await decodes(b, ['alice'], 'bob, reloaded, to decode alice');
  await decodes(a, ['bob'], 'alice to decode the reloaded bob');
  assert.deepEqual(await tileNames(a), ['bob']);
  const legs = JSON.parse(await (await fetch(`${srv.url}/webrtc`)).text()).sessions;
  assert.equal(legs.length, 4, `two publishers and two viewers, the old ones gone: ${JSON.stringify(legs.map((l) => [l.id, l.role]))}`);
});

test('an ICE restart by PATCH (RFC 9725 4.3): new credentials both ways, the same session, the others keep decoding', { timeout: 90000 }, async (t) => {
  const srv = await startServer(['-v']);
  t.after(() => srv.stop());
  const a = await page(t, suite.browser, `${srv.url}/room/ir?name=alice&autojoin=1`);
  const b = await page(t, suite.browser, `${srv.url}/room/ir?name=bob&autojoin=1`);
  await decodes(b, ['alice'], 'bob to decode alice');
  const before = (await viewers(b)).alice.frames;
  assert.equal(await a.evaluate(() => window.rv.iceRestart()), true, await a.evaluate(() => window.rv.error));
  await until(() => /webrtc alice: ICE restart done: checks come with the new credentials/.test(srv.log()), 15000,
    'Chromium to check with the new credentials');
  await decodes(b, ['alice'], 'bob to go on decoding alice after her restart');
  assert.ok((await viewers(b)).alice.frames > before);
  assert.equal(await a.evaluate(() => window.rv.publisher.connectionState), 'connected');
  const stats = JSON.parse(await (await fetch(`${srv.url}/stats`)).text());
  assert.equal(stats.webrtc.ice_restarts, 1);
  assert.equal(stats.webrtc.sessions_total, 4, 'no new session: two publishers and two viewers');
});
