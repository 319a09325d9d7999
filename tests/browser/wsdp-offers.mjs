// wsdp-offers.mjs - regenerate tests/unit/data/wsdp/*.sdp: the SDP offers
// headless Chromium and Firefox ESR make for WHIP (sendonly audio+video),
// WHEP (recvonly audio+video), video only, WHIP with a data channel, and
// WHIP with two simulcast layers (rid h and l).
// Tracks come from a canvas and WebAudio (no devices, no secure context);
// every offer waits (3 s at most) for ICE gathering so it has candidates.
// Not a test: run it by hand (node tests/browser/wsdp-offers.mjs [DIR]) when
// the browsers change; the unit test reads the saved files.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, launchBrowser } from './helpers.mjs';
import { firefoxMissing, launchFirefox } from './firefox.mjs';

export const KINDS = ['whip', 'whep', 'video', 'datachannel', 'simulcast'];

// Runs in the page: make an offer of KIND, keep the connection on
// window.wsdpPc (for wsdp-answer.test.mjs), return the offer's SDP; with
// NOGATHER, at once (no candidates).
export async function pageOffer(kind, nogather) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  window.wsdpPc = pc;
  const tracks = () => {
    const c = document.createElement('canvas');
    c.width = 160; c.height = 120;
    c.getContext('2d').fillRect(0, 0, 10, 10);
    const v = c.captureStream(10).getVideoTracks()[0];
    const ac = new AudioContext();
    const osc = ac.createOscillator();
    const dst = ac.createMediaStreamDestination();
    osc.connect(dst); osc.start();
    const a = dst.stream.getAudioTracks()[0];
    return { a, v, stream: new MediaStream([a, v]) };
  };
  if (kind === 'whep') {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  } else {
    const t = tracks();
    if (kind !== 'video') pc.addTransceiver(t.a, { direction: 'sendonly', streams: [t.stream] });
    const sendEncodings = kind === 'simulcast' ?
      [{ rid: 'h' }, { rid: 'l', scaleResolutionDownBy: 2 }] : undefined;
    pc.addTransceiver(t.v, { direction: 'sendonly', streams: [t.stream], sendEncodings });
    if (kind === 'datachannel') pc.createDataChannel('chat');
  }
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (nogather || pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, 3000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
  return pc.localDescription.sdp;
}

async function main() {
  const dir = process.argv[2] || path.join(ROOT, 'tests', 'unit', 'data', 'wsdp');
  fs.mkdirSync(dir, { recursive: true });
  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext()).newPage();
    for (const k of KINDS) {
      await page.goto('about:blank');
      fs.writeFileSync(path.join(dir, `chromium-${k}.sdp`), await page.evaluate(pageOffer, k));
    }
  } finally {
    await browser.close();
  }
  const why = firefoxMissing();
  if (why) { console.error(`wsdp-offers: ${why}: no Firefox offers`); return; }
  const ff = await launchFirefox();
  try {
    for (const k of KINDS) {
      await ff.navigate('about:blank');
      fs.writeFileSync(path.join(dir, `firefox-${k}.sdp`), await ff.exec(pageOffer, k));
    }
  } finally {
    await ff.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
