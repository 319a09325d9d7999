// whip.test.mjs - WHIP into rvserver from headless Chromium (fake camera and
// microphone): the browser publishes to group "show" with a plain
// RTCPeerConnection and fetch(), as any WHIP client does; rvrecv, a member
// of "show", records what arrives, and ffprobe checks the file (whip.mjs).
import { test } from 'node:test';
import { browserSuite, openPage, have } from './helpers.mjs';
import { whipRecorded } from './whip.mjs';

const suite = browserSuite();
const cleanups = suite.cleanups;

for (const codec of ['VP8', 'H264']) {
  test(`Chromium publishes ${codec} and Opus by WHIP; rvrecv records the group's stream`, { skip: !have('ffprobe') && 'no ffprobe' }, async (t) => {
    let page;
    await whipRecorded(t, {
      browser: 'Chromium',
      codec,
      video: codec.toLowerCase(),
      cleanups,
      open: async (url) => {
        page = await openPage(suite.browser, url);
        cleanups.push(() => page.context().close());
      },
      evaluate: (fn, arg) => page.evaluate(fn, arg),
    });
  });
}
