// firefox.mjs - a small Marionette client for Debian's firefox-esr: no
// geckodriver, no downloads. Starts `firefox-esr --headless --marionette`
// with a fresh profile (fake media, quiet and offline prefs) in its own
// process group, then speaks Marionette's wire protocol over TCP on
// 127.0.0.1: every packet is "LEN:JSON" (LEN = JSON byte length); the server
// opens with a hello {applicationType, marionetteProtocol}; a command is
// [0, id, "Name", params], its response [1, id, error|null, result|null].
// Every wait is bounded; stop() kills the whole process group and deletes
// the profile.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { before, after } from 'node:test';
import { freePort, sleep, launchBrowser } from './helpers.mjs';

export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

// Process groups still alive, killed if node exits without stop().
const groups = new Set();
process.on('exit', () => {
  for (const pid of groups) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
});

// Why Firefox cannot be used here (a reason to skip), or null.
export function firefoxMissing() {
  if (!fs.existsSync(FIREFOX)) return `${FIREFOX} not installed (apt-get install firefox-esr)`;
  const r = spawnSync(FIREFOX, ['--version'], { encoding: 'utf8', timeout: 20000, env: ffEnv(os.tmpdir()) });
  if (r.status !== 0) return `${FIREFOX} --version failed: ${(r.error && r.error.message) || (r.stderr || '').trim().slice(0, 300)}`;
  return null;
}

function ffEnv(home) {
  const env = { ...process.env, MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1', MOZ_CRASHREPORTER: '0',
    MOZ_DISABLE_AUTO_SAFE_MODE: '1', MOZ_NO_REMOTE: '1', HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_CONFIG_HOME: path.join(home, '.config') };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  // Running as root (a container): the content sandbox may not work there.
  if (process.getuid && process.getuid() === 0) env.MOZ_DISABLE_CONTENT_SANDBOX = '1';
  return env;
}

function prefs(port) {
  const p = {
    'marionette.port': port,
    // Fake camera and microphone, no permission prompt, autoplay allowed.
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': true,
    'media.autoplay.default': 0,
    'media.autoplay.blocking_policy': 0,
    // WebRTC on loopback: 127.0.0.1 host candidates, not mDNS names. A page
    // without camera permission gathers the default route's address only
    // ("use only default local addresses" in nICEr's log), and fake devices
    // do not count as capturing: so camera and microphone are allowed.
    'permissions.default.camera': 1,
    'permissions.default.microphone': 1,
    'media.peerconnection.ice.loopback': true,
    'media.peerconnection.ice.obfuscate_host_addresses': false,
    'media.peerconnection.ice.default_address_only': false,
    'media.peerconnection.ice.no_host': false,
    'media.peerconnection.ice.proxy_only': false,
    // Quiet and offline.
    'browser.shell.checkDefaultBrowser': false,
    'browser.startup.page': 0,
    'browser.startup.homepage': 'about:blank',
    'browser.startup.homepage_override.mstone': 'ignore',
    'browser.newtabpage.enabled': false,
    'browser.aboutwelcome.enabled': false,
    'browser.tabs.warnOnClose': false,
    'browser.sessionstore.resume_from_crash': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'browser.safebrowsing.downloads.enabled': false,
    'browser.safebrowsing.blockedURIs.enabled': false,
    'browser.safebrowsing.provider.mozilla.updateURL': '',
    'browser.search.update': false,
    'browser.discovery.enabled': false,
    'browser.ping-centre.telemetry': false,
    'browser.region.network.url': '',
    'browser.region.update.enabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'toolkit.telemetry.reportingpolicy.firstRun': false,
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.unified': false,
    'toolkit.telemetry.server': '',
    'app.update.disabledForTesting': true,
    'app.update.auto': false,
    'app.normandy.enabled': false,
    'app.shield.optoutstudies.enabled': false,
    'extensions.update.enabled': false,
    'extensions.getAddons.cache.enabled': false,
    'extensions.blocklist.enabled': false,
    'services.settings.server': 'http://127.0.0.1:9/',
    'network.proxy.type': 0,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'network.dns.disablePrefetch': true,
    'network.prefetch-next': false,
    'network.http.speculative-parallel-limit': 0,
    'network.trr.mode': 5,
    'media.gmp-manager.updateEnabled': false,
    'media.gmp-gmpopenh264.autoupdate': false,
    'media.gmp-manager.url': 'http://127.0.0.1:9/',
    'captivedetect.canonicalURL': '',
    'dom.disable_open_during_load': false,
    'dom.min_background_timeout_value': 4,
    'dom.timeout.enable_budget_timer_throttling': false,
    'toolkit.startup.max_resumed_crashes': -1,
    'security.sandbox.content.level': 0,
  };
  return Object.entries(p).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join('');
}

// A Marionette connection: send(name, params) -> result, or throws.
class Marionette {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.nextId = 1;
    this.waiting = new Map();
    this.hello = null;
    this.closed = null;
    this.helloWait = new Promise((res) => { this.gotHello = res; });
    sock.on('data', (d) => this.onData(d));
    const fail = (err) => {
      this.closed = err || new Error('marionette connection closed');
      for (const w of this.waiting.values()) w.reject(this.closed);
      this.waiting.clear();
    };
    sock.on('error', fail);
    sock.on('close', () => fail());
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = parseInt(this.buf.subarray(0, colon).toString('ascii'), 10);
      if (!(len >= 0)) { this.sock.destroy(new Error(`bad marionette packet: ${this.buf.subarray(0, 40)}`)); return; }
      if (this.buf.length < colon + 1 + len) return;
      const body = this.buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
      this.buf = this.buf.subarray(colon + 1 + len);
      let msg;
      try { msg = JSON.parse(body); } catch { continue; }
      if (!Array.isArray(msg)) { this.hello = msg; this.gotHello(msg); continue; }
      const [type, id, error, result] = msg;
      const w = this.waiting.get(id);
      if (type !== 1 || !w) continue;
      this.waiting.delete(id);
      if (error) {
        const e = new Error(`${w.name}: ${error.error}: ${error.message}`);
        e.marionette = error;
        w.reject(e);
      } else w.resolve(result);
    }
  }

  send(name, params = {}, timeout = 30000) {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    const data = Buffer.from(JSON.stringify([0, id, name, params]), 'utf8');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${name}: no response in ${timeout} ms`));
      }, timeout);
      const done = (f) => (v) => { clearTimeout(timer); f(v); };
      this.waiting.set(id, { name, resolve: done(resolve), reject: done(reject) });
      this.sock.write(Buffer.concat([Buffer.from(`${data.length}:`, 'ascii'), data]));
    });
  }

  close() { this.sock.destroy(); }
}

function connectOnce(port) {
  return new Promise((res) => {
    const s = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => { s.destroy(); res(null); }, 2000);
    s.once('connect', () => { clearTimeout(t); res(s); });
    s.once('error', () => { clearTimeout(t); s.destroy(); res(null); });
  });
}

// Start Firefox and open a Marionette session. Resolves to a client with
// navigate(url), exec(fnBody, ...args) (the body may await; its return
// value, awaited, comes back), newWindow(), switchTo(handle), stop(),
// log() (Firefox's own output, for failure messages).
export async function launchFirefox({ timeout = 60000 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rvkit-firefox-'));
  const profile = path.join(dir, 'profile');
  fs.mkdirSync(profile);
  const port = await freePort();
  fs.writeFileSync(path.join(profile, 'user.js'), prefs(port));
  const child = spawn(FIREFOX, ['--headless', '--marionette', '--no-remote', '--profile', profile, 'about:blank'], {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: ffEnv(dir),
  });
  let out = '';
  const keep = (d) => { out += d; if (out.length > 200000) out = out.slice(-100000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const done = new Promise((r) => child.on('exit', (code, sig) => { exited = { code, sig }; r(); }));
  child.on('error', (e) => { exited = { error: e.message }; });
  if (child.pid) groups.add(child.pid);
  let mn = null;

  const ff = {
    child, dir, port,
    log: () => out,
    get exited() { return exited; },
    async stop() {
      if (mn) {
        // A polite quit first, bounded; then the whole process group goes.
        await mn.send('Marionette:Quit', { flags: ['eForceQuit'] }, 3000).catch(() => {});
        mn.close();
        mn = null;
      }
      await Promise.race([done, sleep(3000)]);
      const pid = child.pid;
      if (pid) {
        try { process.kill(-pid, 'SIGTERM'); } catch { /* gone */ }
        await Promise.race([done, sleep(2000)]);
        try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
        await Promise.race([done, sleep(2000)]);
        groups.delete(pid);
      }
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
    send: (name, params, t) => mn.send(name, params, t),
    navigate: (url) => mn.send('WebDriver:Navigate', { url }, 30000),
    // fnBody is a function body (string) or a function; args are its arguments.
    async exec(fn, ...args) {
      const script = typeof fn === 'function' ? `return (${fn}).apply(null, arguments);` : fn;
      const r = await mn.send('WebDriver:ExecuteScript', { script, args }, 40000);
      return r && r.value;
    },
    async newWindow(type = 'window') {
      const r = await mn.send('WebDriver:NewWindow', { type, focus: true });
      return r.handle;
    },
    switchTo: (handle) => mn.send('WebDriver:SwitchToWindow', { handle, focus: true }),
    async handle() { return (await mn.send('WebDriver:GetWindowHandle')).value; },
  };

  try {
    const end = Date.now() + timeout;
    for (;;) {
      if (exited) throw new Error(`firefox exited (${JSON.stringify(exited)})`);
      const sock = await connectOnce(port);
      if (sock) {
        const m = new Marionette(sock);
        const hello = await Promise.race([m.helloWait, sleep(10000).then(() => null)]);
        if (hello) { mn = m; break; }
        m.close();
      }
      if (Date.now() > end) throw new Error(`no Marionette on 127.0.0.1:${port} in ${timeout} ms`);
      await sleep(250);
    }
    ff.hello = mn.hello;
    const s = await mn.send('WebDriver:NewSession', {
      browserName: 'firefox', acceptInsecureCerts: true, pageLoadStrategy: 'normal',
      timeouts: { script: 30000, pageLoad: 30000, implicit: 0 },
      unhandledPromptBehavior: 'dismiss',
    }, 30000);
    ff.session = s;
    ff.capabilities = s && s.capabilities;
    return ff;
  } catch (e) {
    const log = out.slice(-2000);
    await ff.stop();
    throw new Error(`${e.message}; firefox output: ${log}`);
  }
}

// Poll the page of FF with FN (a function run in the page, may be async)
// until it returns something truthy; that value, or an error naming WHAT
// (with a snapshot of window.rv) after TIMEOUT ms.
export async function ffWait(ff, fn, arg, timeout, what) {
  const end = Date.now() + timeout;
  let last, err;
  for (;;) {
    try { last = await ff.exec(fn, arg); err = null; } catch (e) { err = e; last = null; }
    if (last) return last;
    if (Date.now() > end) {
      const snap = await ff.exec(ffSnapshot).catch((e) => `(no snapshot: ${e.message})`);
      throw new Error(`timed out after ${timeout} ms waiting for ${what} in Firefox; page: ${JSON.stringify(snap)}${err ? `; last error: ${err.message}` : ''}`);
    }
    await sleep(250);
  }
}

export function ffSnapshot() {
  const rv = window.rv || {};
  return {
    id: rv.id, state: rv.state, error: rv.error, mediaError: rv.mediaError,
    peers: [...(rv.peers || new Map())].map(([id, pc]) => [id, pc.connectionState, pc.iceConnectionState, pc.signalingState]),
    status: document.getElementById('status') && document.getElementById('status').textContent,
    notice: document.getElementById('notice') && document.getElementById('notice').textContent,
    chat: document.getElementById('chat-log') && document.getElementById('chat-log').textContent.slice(-400),
  };
}

// One firefox-esr (and with CHROMIUM one headless Chromium, .browser) for a
// test file: started before its tests, stopped after them, with every
// cleanup pushed on .cleanups run first (last first). .skip says why the
// tests cannot run (no firefox-esr, or it did not start), else null.
export function firefoxSuite({ chromium = false } = {}) {
  const s = { ff: null, browser: null, skip: null, cleanups: [] };
  before(async () => {
    s.skip = firefoxMissing();
    if (s.skip) return;
    try {
      s.ff = await launchFirefox({ timeout: 60000 });
    } catch (e) {
      s.skip = `firefox-esr did not start: ${e.message.slice(0, 400)}`;
      return;
    }
    if (chromium) s.browser = await launchBrowser();
  });
  after(async () => {
    for (const f of s.cleanups.reverse()) { try { await f(); } catch { /* best effort */ } }
    if (s.browser) await s.browser.close().catch(() => {});
    if (s.ff) await s.ff.stop().catch(() => {});
  });
  return s;
}
