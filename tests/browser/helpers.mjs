// helpers.mjs - processes and browsers for the browser tests: rvsignal and
// coturn on 127.0.0.1 with port 0 / free ports, headless Chromium through
// playwright-core. Every wait is bounded; everything started is tracked and
// killed at exit.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { before, after } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const RVSIGNAL = process.env.RVSIGNAL || path.join(ROOT, 'build', 'bin', 'rvsignal');
export const RV_BIN = process.env.RV_BIN || path.dirname(RVSIGNAL);
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const live = new Set();
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rvkit-browser-'));
}

export function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// A started process: its output kept for failure messages, stop() bounded.
function track(name, child) {
  let out = '';
  const keep = (d) => { out += d; if (out.length > 200000) out = out.slice(-100000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = null;
  const done = new Promise((r) => child.on('exit', (code, sig) => { exited = { code, sig }; live.delete(child); r(); }));
  live.add(child);
  return {
    name,
    child,
    get exited() { return exited; },
    log: () => out,
    // its exit ({code, sig}) within MS, or null
    async wait(ms) { await Promise.race([done, sleep(ms)]); return exited; },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await Promise.race([done, sleep(3000)]);
      if (!exited) { child.kill('SIGKILL'); await Promise.race([done, sleep(2000)]); }
    },
  };
}

// A server started with ARGV and a --port-file PF on 127.0.0.1; resolves
// once the file names the port (10 s at most).
async function startListening(name, bin, argv, dir, pf, env = {}) {
  if (!fs.existsSync(bin)) throw new Error(`${bin} not built (run make)`);
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const t = track(name, child);
  const until = Date.now() + 10000;
  for (;;) {
    if (t.exited) throw new Error(`${name} exited (${JSON.stringify(t.exited)}): ${t.log()}`);
    let port = 0;
    try { port = parseInt(fs.readFileSync(pf, 'utf8').split('\n')[0], 10) || 0; } catch { /* not yet */ }
    if (port > 0) {
      t.port = port;
      t.url = `http://127.0.0.1:${port}`;
      t.dir = dir;
      return t;
    }
    if (Date.now() > until) { await t.stop(); throw new Error(`${name} wrote no port file in 10 s: ${t.log()}`); }
    await sleep(50);
  }
}

// rvsignal serve on 127.0.0.1, port 0.
export async function startSignal(args = []) {
  const dir = tmpdir();
  const pf = path.join(dir, 'ports');
  return startListening('rvsignal', RVSIGNAL, ['serve', '-l', '127.0.0.1', '--port', '0', '--port-file', pf, ...args], dir, pf);
}

// rvserver on 127.0.0.1, port 0 (TCP and UDP on one number: t.port), with
// ENV added to this process's environment.
export async function startServer(args = [], env = {}) {
  const dir = tmpdir();
  const pf = path.join(dir, 'ports');
  return startListening('rvserver', path.join(RV_BIN, 'rvserver'), ['-l', '127.0.0.1', '--port', '0', '--port-file', pf, ...args], dir, pf, env);
}

// Another rv tool (RV_BIN/NAME ARGS), its output kept: t.log(), t.exited,
// t.stop(); with STDIN 'pipe', t.child.stdin is its standard input.
export function startTool(name, args, stdin = 'ignore') {
  return track(name, spawn(path.join(RV_BIN, name), args, { stdio: [stdin, 'pipe', 'pipe'] }));
}

// A port free on 127.0.0.1 for both TCP and UDP (as coturn listens on both).
export async function freePort() {
  const dgram = await import('node:dgram');
  for (let i = 0; i < 20; i++) {
    const port = await new Promise((res, rej) => {
      const s = net.createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
    });
    const ok = await new Promise((res) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => { u.close(); res(false); });
      u.bind(port, '127.0.0.1', () => u.close(() => res(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port');
}

async function tcpOpen(port) {
  return new Promise((res) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); res(true); });
    s.once('error', () => res(false));
    s.setTimeout(500, () => { s.destroy(); res(false); });
  });
}

// coturn with TURN REST credentials (use-auth-secret) on 127.0.0.1 only.
export async function startCoturn(secret) {
  const port = await freePort();
  const min = 40000 + Math.floor(Math.random() * 20000);
  const child = spawn('turnserver', [
    '-n', '--log-file=stdout', '--simple-log',
    '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    `--min-port=${min}`, `--max-port=${min + 200}`,
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=r',
    '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli', '--fingerprint',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const t = track('turnserver', child);
  t.port = port;
  const until = Date.now() + 10000;
  while (!(await tcpOpen(port))) {
    if (t.exited) throw new Error(`turnserver exited (${JSON.stringify(t.exited)}): ${t.log()}`);
    if (Date.now() > until) { await t.stop(); throw new Error(`turnserver not listening in 10 s: ${t.log()}`); }
    await sleep(100);
  }
  return t;
}

export const CHROME_ARGS = [
  '--no-sandbox',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,OptimizationHints,Translate',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--password-store=basic',
];

// One headless Chromium for a test file, launched before its tests and
// closed after them, with every cleanup pushed on .cleanups (run last first).
export function browserSuite() {
  const s = { browser: null, cleanups: [] };
  before(async () => { s.browser = await launchBrowser(); });
  after(async () => {
    for (const f of s.cleanups.reverse()) { try { await f(); } catch { /* best effort */ } }
    if (s.browser) await s.browser.close().catch(() => {});
  });
  return s;
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS, timeout: 30000 });
}

// A Chromium of its own whose process a test may kill: {browser, pid}.
export async function launchKillable() {
  const server = await chromium.launchServer({ executablePath: CHROMIUM, args: CHROME_ARGS, timeout: 30000 });
  const browser = await chromium.connect(server.wsEndpoint(), { timeout: 30000 });
  return { browser, pid: server.process().pid, close: () => server.close().catch(() => {}) };
}

// One page in its own browser context, console errors kept on page.rvLog.
export async function openPage(browser, url) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 640 } });
  const page = await ctx.newPage();
  page.rvLog = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') page.rvLog.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => page.rvLog.push(`pageerror: ${e.message}`));
  page.setDefaultTimeout(20000);
  await page.goto(url, { timeout: 15000 });
  return page;
}

export async function waitFor(page, fn, arg, timeout, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 200 });
  } catch (e) {
    const snap = await page.evaluate(() => {
      const rv = window.rv || {};
      return {
        id: rv.id, state: rv.state, error: rv.error,
        peers: [...(rv.peers || new Map())].map(([id, pc]) => [id, pc.connectionState, pc.iceConnectionState, pc.signalingState]),
        status: document.getElementById('status')?.textContent,
        notice: document.getElementById('notice')?.textContent,
      };
    }).catch(() => ({}));
    throw new Error(`timed out after ${timeout} ms waiting for ${what}; page: ${JSON.stringify(snap)}; console: ${page.rvLog.slice(-10).join(' | ')}`);
  }
}

// Poll FN (async, in node) until it returns a truthy value: that value, or
// an error naming WHAT after TIMEOUT ms. (page.waitForFunction does not wait
// on a predicate's promise, so asynchronous page checks such as getStats()
// are polled from here.)
export async function until(fn, timeout, what) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(200);
  }
}

// Sum of framesDecoded over every inbound video stream of the page.
export function framesDecoded(page) {
  return page.evaluate(async () => {
    let n = 0;
    for (const pc of window.rv.peers.values()) {
      const st = await pc.getStats();
      st.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
    }
    return n;
  });
}

// The selected candidate pair of each peer connection: local and remote types.
export function selectedPairs(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.rv.peers.values()) {
      const st = await pc.getStats();
      let pair = null;
      st.forEach((r) => {
        if (r.type === 'transport' && r.selectedCandidatePairId) pair = st.get(r.selectedCandidatePairId);
      });
      if (!pair) st.forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r; });
      const l = pair && st.get(pair.localCandidateId), rm = pair && st.get(pair.remoteCandidateId);
      out.push({ local: l && l.candidateType, remote: rm && rm.candidateType, localAddr: l && `${l.address}:${l.port}`, relayProtocol: l && l.relayProtocol });
    }
    return out;
  });
}

// For page.waitForFunction: WANT peers, every one connected.
export function allConnected(want) {
  const rv = window.rv;
  if (!rv || rv.state !== 'joined' || rv.peers.size !== want) return false;
  for (const pc of rv.peers.values()) if (pc.connectionState !== 'connected') return false;
  return true;
}
