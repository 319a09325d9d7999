// bench/p2p/phases.mjs - figures for bench/p2p.sh's routing and churn phases (rvkit only).
//
// node phases.mjs routes BOUND SENT DIR
//   SENT has one line "K SRC DST" per message that bench/p2p.sh wrote as "@ID(DST) r K SRC DST"
//   into peer SRC's stdin; DIR/out.I is peer I's stdout. A message is delivered when its
//   destination printed a NetGroup.SendTo.Notify with that text (a copy elsewhere is counted in
//   misdelivered). Prints key=value: sent, delivered, delivered_pct, misdelivered, hops_p50,
//   hops_p99, hops_max (nearest rank over the delivered), within (delivered in at most BOUND hops),
//   within_pct (of the sent).
//
// node phases.mjs churn EVENTS DIR
//   EVENTS has lines "start I US", "kill I US SIGNAL" and "post SEQ SENDER US" (US: the wall clock
//   in microseconds when bench/p2p.sh started peer I, signalled it, wrote post "c SEQ SENDER US"
//   into SENDER's stdin). A post counts toward peer I (not its sender) when I was started before
//   the post was sent and was not signalled until 2 s after it; it is delivered when DIR/out.I has
//   a NetGroup.Posting.Notify with its text. The same with "joined" for "its first neighbour
//   connected (NetGroup.Neighbor.Connect) before the send" in place of "started".
//   Prints key=value: posts, started, killed_term, killed_kill, expected, delivered, delivery_pct,
//   missed_by_new (misses at peers started during the phase), expected_joined, delivered_joined,
//   delivery_joined_pct, lat_p50_ms, lat_p99_ms (send to receive, over the counted deliveries).
import { readFileSync } from 'node:fs'

const mode = process.argv[2]
const lines = (f) => { try { return readFileSync(f, 'utf8').split('\n') } catch { return [] } }
const json = (f) => lines(f).filter((l) => l[0] === '{').map((l) => { try { return JSON.parse(l) } catch { return null } }).filter(Boolean)
const rank = (a, p) => a.length ? a[Math.min(a.length - 1, Math.ceil(p / 100 * a.length) - 1)] : ''
const pct = (a, b) => b ? (100 * a / b).toFixed(2) : ''
const print = (o) => { for (const [k, v] of Object.entries(o)) process.stdout.write(`${k}=${v}\n`) }

if (mode === 'routes') {
  const [bound, listFile, dir] = [Number(process.argv[3]), process.argv[4], process.argv[5]]
  const sent = lines(listFile).map((l) => l.trim().split(' ').map(Number)).filter((a) => a.length === 3)
  const got = new Map() // peer -> Map(text -> hops)
  const peerOut = (i) => {
    if (!got.has(i)) {
      const m = new Map()
      for (const o of json(`${dir}/out.${i}`)) if (o.code === 'NetGroup.SendTo.Notify' && !m.has(o.text)) m.set(o.text, o.hops)
      got.set(i, m)
    }
    return got.get(i)
  }
  const hops = []
  let mis = 0
  for (const [k, src, dst] of sent) {
    const text = `r ${k} ${src} ${dst}`
    const h = peerOut(dst).get(text)
    if (h != null) hops.push(h)
    else if (peerOut(src).has(text)) mis++ // the sender found itself nearest: a routing miss
  }
  hops.sort((a, b) => a - b)
  const within = hops.filter((h) => h <= bound).length
  print({
    sent: sent.length, delivered: hops.length, delivered_pct: pct(hops.length, sent.length), misdelivered: mis,
    hops_p50: rank(hops, 50), hops_p99: rank(hops, 99), hops_max: hops.length ? hops[hops.length - 1] : '',
    within, within_pct: pct(within, sent.length)
  })
} else if (mode === 'churn') {
  const [listFile, dir] = process.argv.slice(3)
  const peers = new Map() // I -> { start, kill, join, got: Map(seq -> receive ms) }
  const posts = []
  let term = 0; let kill = 0
  for (const l of lines(listFile)) {
    const f = l.trim().split(' ')
    if (f[0] === 'start') peers.set(Number(f[1]), { start: Number(f[2]) / 1000, kill: Infinity, join: Infinity })
    else if (f[0] === 'kill' && peers.has(Number(f[1]))) {
      peers.get(Number(f[1])).kill = Number(f[2]) / 1000
      if (f[3] === 'KILL') kill++; else term++
    } else if (f[0] === 'post') posts.push({ seq: Number(f[1]), sender: Number(f[2]), t: Number(f[3]) / 1000 })
  }
  const t0 = Math.min(...posts.map((p) => p.t))
  for (const [i, p] of peers) {
    p.got = new Map()
    for (const o of json(`${dir}/out.${i}`)) {
      if (o.code === 'NetGroup.Neighbor.Connect' && p.join === Infinity) p.join = o.time
      const m = o.code === 'NetGroup.Posting.Notify' && typeof o.text === 'string' && /^c (\d+) /.exec(o.text)
      if (m && !p.got.has(Number(m[1]))) p.got.set(Number(m[1]), o.time)
    }
  }
  let expected = 0; let delivered = 0; let missedNew = 0; let expJ = 0; let delJ = 0
  const lat = []
  for (const post of posts) {
    for (const [i, p] of peers) {
      if (i === post.sender || p.kill < post.t + 2000) continue
      const r = p.got.get(post.seq)
      if (p.start <= post.t) {
        expected++
        if (r != null) { delivered++; lat.push(r - post.t) } else if (p.start > t0) missedNew++
      }
      if (p.join <= post.t) { expJ++; if (r != null) delJ++ }
    }
  }
  lat.sort((a, b) => a - b)
  const ms = (v) => v === '' ? '' : v.toFixed(2)
  print({
    posts: posts.length, started: [...peers.values()].filter((p) => p.start > t0).length, killed_term: term, killed_kill: kill,
    expected, delivered, delivery_pct: pct(delivered, expected), missed_by_new: missedNew,
    expected_joined: expJ, delivered_joined: delJ, delivery_joined_pct: pct(delJ, expJ),
    lat_p50_ms: ms(rank(lat, 50)), lat_p99_ms: ms(rank(lat, 99))
  })
} else {
  process.stderr.write('usage: node phases.mjs routes BOUND SENT DIR | churn EVENTS DIR\n')
  process.exit(2)
}
