// bench/p2p/drive.mjs - posts for bench/p2p.sh, the same for both sides.
//
// node drive.mjs POSTS RATE SEED FIFO...
//   Writes POSTS lines at RATE per second (a fixed schedule: post k at t0 + k/RATE, so a late
//   wake-up does not shift the later ones) into the stdin of peers picked at random (a
//   xorshift32 generator seeded with SEED, so both sides get the same senders in the same order).
//   Each line is the post's text: "b SEQ SENDER SEND_MS", where SEND_MS is Unix ms with a fraction
//   (clock.mjs, the clock peer.mjs stamps receptions with), read
//   just before the write. Prints "sent=N late_max_ms=X" on stdout at the end.
import { openSync, writeSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { now } from './clock.mjs'

const [posts, rate, seed] = process.argv.slice(2, 5).map(Number)
const fifos = process.argv.slice(5)
if (!(posts > 0 && rate > 0 && fifos.length > 0)) {
  process.stderr.write('usage: node drive.mjs POSTS RATE SEED FIFO...\n')
  process.exit(2)
}
const fds = fifos.map((f) => openSync(f, 'w'))
let x = (seed >>> 0) || 1
const rand = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x }

const t0 = now() + 20
let lateMax = 0
for (let k = 0; k < posts; k++) {
  const due = t0 + k * 1000 / rate
  const wait = due - now()
  if (wait > 1) await sleep(wait - 1)
  while (now() < due);
  const sender = rand() % fds.length
  const t = now()
  lateMax = Math.max(lateMax, t - due)
  writeSync(fds[sender], `b ${k} ${sender} ${t.toFixed(3)}\n`)
}
process.stdout.write(`sent=${posts} late_max_ms=${lateMax.toFixed(1)}\n`)
