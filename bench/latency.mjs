// bench/latency.mjs - what rvsend to a Chromium WHEP viewer through rvserver adds, measured by
// the browser: rvsend sends a live lavfi pattern (320x240, 30 fps) and a tone (Opus) into group
// "show" (Chromium estimates video playout only with the audio it syncs to); headless
// Chromium watches it by WHEP (POST /whep/show) and, once a second for SECS seconds, reads its
// inbound-rtp stats. Chromium's estimatedPlayoutTimestamp is the sender's NTP wall-clock time of
// the frame it plays now (from the source's sender reports, which rvsend stamps when the source
// reaches each frame and rvserver passes on rewritten); the stats' own timestamp is the time it
// plays. Both clocks are this machine's, so their difference is the whole way from the source to
// playout: encoding, rvsend, the relay, SRTP, the browser's jitter buffer and decoding.
// Printed: median and p95 of those samples per codec, and the jitter buffer's share
// (jitterBufferDelay / jitterBufferEmittedCount). GOAL (issue 13): median at most 150 ms.
// Environment: SECS=20, CODECS="h264 vp8", RV_BIN (default build/bin).
// Exit status: 0 goal met, 1 missed, 2 no measurement.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
process.env.RV_BIN ||= path.join(here, '..', 'build', 'bin');
const { startServer, startTool, launchBrowser, openPage, until, sleep } = await import('../tests/browser/helpers.mjs');
const { watch } = await import('../tests/browser/whip.mjs');

const SECS = Number(process.env.SECS || 20);
const CODECS = (process.env.CODECS || 'h264 vp8').split(/\s+/).filter(Boolean);
const NTP_UNIX_MS = 2208988800000;   // 1900 to 1970

// In the page: the video inbound-rtp numbers that matter here.
async function sample() {
  let out = null;
  (await window.pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video')
      out = { t: r.timestamp, playout: r.estimatedPlayoutTimestamp, frames: r.framesDecoded || 0,
        jb: r.jitterBufferDelay || 0, jbn: r.jitterBufferEmittedCount || 0 };
  });
  return out;
}

const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]; };

async function run(browser, vcodec) {
  const srv = await startServer([]);
  const cam = startTool('rvsend', ['-s', `127.0.0.1:${srv.port}`, '-n', 'cam', '-g', 'show', 'media',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440', '--vcodec', vcodec,
    '--duration', String(SECS + 30)]);
  const page = await openPage(browser, `${srv.url}/healthz`);
  try {
    await sleep(1000);
    await page.evaluate(watch, { url: `${srv.url}/whep/show` });
    await until(async () => { const s = await page.evaluate(sample); return s && s.playout && s.frames > 30; }, 20000, 'frames and a playout estimate');
    const lat = [];
    const first = await page.evaluate(sample);
    for (let i = 0; i < SECS; i++) {
      await sleep(1000);
      const s = await page.evaluate(sample);
      if (s && s.playout) lat.push(s.t + NTP_UNIX_MS - s.playout);
    }
    const last = await page.evaluate(sample);
    const jb = last.jbn > first.jbn ? (last.jb - first.jb) / (last.jbn - first.jbn) * 1000 : NaN;
    return { vcodec, n: lat.length, p50: pct(lat, 0.5), p95: pct(lat, 0.95), jb, fps: (last.frames - first.frames) / SECS };
  } finally {
    await page.context().close().catch(() => {});
    await cam.stop();
    await srv.stop();
  }
}

const browser = await launchBrowser();
let status = 0;
try {
  console.log('rvsend -> rvserver -> Chromium (WHEP), 320x240 30 fps, ms from the source\'s frame to its playout');
  console.log('codec  samples  median  p95   jitter buffer  fps');
  const medians = [];
  for (const c of CODECS) {
    const r = await run(browser, c);
    medians.push(r.p50);
    console.log(`${c.padEnd(6)} ${String(r.n).padStart(7)}  ${r.p50.toFixed(0).padStart(6)}  ${r.p95.toFixed(0).padStart(4)}  ${r.jb.toFixed(0).padStart(13)}  ${r.fps.toFixed(1)}`);
  }
  const worst = Math.max(...medians);
  const ok = worst <= 150;
  console.log(`GOAL rvsend to a Chromium viewer adds at most 150 ms (median): ${worst.toFixed(0)} ms ${ok ? 'PASS' : 'FAIL'}`);
  status = ok ? 0 : 1;
} catch (e) {
  console.log(`latency bench: no measurement: ${e.message}`);
  status = 2;
} finally {
  await browser.close().catch(() => {});
}
process.exit(status);
