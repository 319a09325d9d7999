// bench/p2p/analyze.mjs - figures for one side of bench/p2p.sh from its peers' stdout files.
//
// node analyze.mjs N POSTS FILE...   (FILE i is peer i's stdout; N files)
//   A post is any JSON line with "text" "b SEQ SENDER SEND_MS" (drive.mjs) and a receive "time"
//   (Unix ms): peer.mjs's {"code":"post"} and rvgroup's {"code":"NetGroup.Posting.Notify"} alike.
//   A copy at its own sender is not a delivery. Lines that are not JSON are skipped.
//   Prints key=value lines:
//     expected     POSTS x (N-1)
//     delivered    distinct (receiver, post) pairs
//     delivery_pct delivered / expected x 100
//     complete     posts that reached all N-1 other peers
//     shown_dups   extra copies of a post printed by one peer (rvgroup should print each once)
//     raw          copies that arrived on the wire, summed over peers, from the "stats" lines
//                  (peer.mjs prints one at stdin EOF; empty when no peer printed one)
//                  (the first stats line of a peer counts: bench/p2p.sh asks gossipsub peers
//                  for one with /stats before it stops them)
//     raw_peers    how many peers printed one
//     wire_dups    rvgroup: counts.duplicates of the first NetGroup.Info line of every peer (its
//                  gossip engine's count of post copies it already had, on the wire: bench/p2p.sh
//                  sends every rvgroup SIGUSR1 after the drain), summed; empty when none printed one
//     info_peers   how many peers printed one
//     disconnects  connections the peers lost until then, summed (peer.mjs only)
//     dup_per_post redundant copies per peer per post: (raw - delivered) / delivered, or
//                  wire_dups / delivered, or shown_dups / delivered when no peer printed counters,
//                  empty when only some did
//     lat_p50_ms, lat_p99_ms, lat_max_ms  post-to-every-peer latency: per post the max over its
//                  receivers of receive - send time, then percentiles (nearest rank) over the
//                  complete posts
import { readFileSync } from 'node:fs'

const n = Number(process.argv[2])
const posts = Number(process.argv[3])
const files = process.argv.slice(4)
const seen = new Map() // seq -> Map(receiver -> first receive time)
let shownDups = 0
let raw = 0
let rawPeers = 0
let disconnects = ''
let wireDups = 0
let infoPeers = 0
const sendTime = new Map()

files.forEach((file, peer) => {
  let text = ''
  let statsSeen = false
  let infoSeen = false
  try { text = readFileSync(file, 'utf8') } catch { return }
  for (const line of text.split('\n')) {
    if (line[0] !== '{') continue
    let o
    try { o = JSON.parse(line) } catch { continue }
    if (o.code === 'stats' && typeof o.raw === 'number') { // the first one of this peer
      if (statsSeen) continue
      statsSeen = true
      raw += o.raw
      rawPeers++
      if (typeof o.disconnects === 'number') disconnects = (disconnects || 0) + o.disconnects
      continue
    }
    if (o.code === 'NetGroup.Info' && o.counts && typeof o.counts.duplicates === 'number') {
      if (infoSeen) continue // the first one: later phases send SIGUSR1 again
      infoSeen = true
      wireDups += o.counts.duplicates
      infoPeers++
      continue
    }
    if (typeof o.text !== 'string' || typeof o.time !== 'number') continue
    const m = /^b (\d+) (\d+) ([0-9.]+)$/.exec(o.text)
    if (m == null) continue
    const seq = Number(m[1])
    if (Number(m[2]) === peer || seq >= posts) continue
    sendTime.set(seq, Number(m[3]))
    let r = seen.get(seq)
    if (r == null) { r = new Map(); seen.set(seq, r) }
    if (r.has(peer)) { shownDups++; continue }
    r.set(peer, o.time)
  }
})

const expected = posts * (n - 1)
let delivered = 0
let complete = 0
const lat = []
for (const [seq, r] of seen) {
  delivered += r.size
  if (r.size < n - 1) continue
  complete++
  let worst = -Infinity
  for (const t of r.values()) worst = Math.max(worst, t - sendTime.get(seq))
  lat.push(worst)
}
lat.sort((a, b) => a - b)
const pct = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p / 100 * lat.length) - 1)].toFixed(2) : ''
// with counters from some peers only, neither figure is right: none
const dup = delivered === 0 || (rawPeers > 0 && rawPeers < n) || (!rawPeers && infoPeers > 0 && infoPeers < n)
  ? ''
  : rawPeers
    ? ((raw - delivered) / delivered).toFixed(2)
    : infoPeers ? (wireDups / delivered).toFixed(2) : (shownDups / delivered).toFixed(2)
const out = {
  expected, delivered,
  delivery_pct: expected ? (100 * delivered / expected).toFixed(2) : '',
  complete, shown_dups: shownDups, raw: rawPeers ? raw : '', raw_peers: rawPeers,
  wire_dups: infoPeers ? wireDups : '', info_peers: infoPeers, disconnects, dup_per_post: dup,
  lat_p50_ms: pct(50), lat_p99_ms: pct(99), lat_max_ms: lat.length ? lat[lat.length - 1].toFixed(2) : ''
}
for (const [k, v] of Object.entries(out)) process.stdout.write(`${k}=${v}\n`)
