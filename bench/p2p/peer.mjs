// bench/p2p/peer.mjs - one js-libp2p gossipsub peer for bench/p2p.sh (the anchor).
//
// node peer.mjs ADDR_FILE [TOPIC]
//   Listens on /ip4/127.0.0.1/tcp/0 (TCP, noise, yamux, identify, gossipsub with its defaults),
//   subscribes to TOPIC (default "bench") and writes its dialable multiaddr (with /p2p/ID) to
//   ADDR_FILE once listening. Then reads stdin lines:
//     /dial MA [MA...]   dial these peers (they become neighbours once both have subscribed)
//     /stats             print the counters below as one JSON line
//     anything else      publish the line as one post on TOPIC
//   stdout, one JSON object per line (the shape bench/p2p/analyze.mjs reads for both sides):
//     {"code":"ready","id":ID,"addr":MA}
//     {"code":"neighbor","peer":ID}                 a peer subscribed to TOPIC (first time)
//     {"code":"mesh","n":N}                         the first time its gossipsub mesh is not empty
//     {"code":"post","time":MS,"from":ID,"text":T}  a post delivered to this peer (first copy)
//     {"code":"stats","raw":N,"delivered":N,"published":N,"errors":N,"disconnects":N}
//   time is Unix ms with a fraction (clock.mjs). raw counts every
//   message on TOPIC that arrived on the wire, duplicates included (gossipsub's own
//   handleReceivedMessage is wrapped to count them); delivered counts the first copies only.
//   On stdin EOF or SIGTERM it prints the stats line and stops.
import './compat.mjs'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { writeFileSync, renameSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { now } from './clock.mjs'

const addrFile = process.argv[2]
const topic = process.argv[3] ?? 'bench'
if (addrFile == null) {
  process.stderr.write('usage: node peer.mjs ADDR_FILE [TOPIC]\n')
  process.exit(2)
}

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const counts = { raw: 0, delivered: 0, published: 0, errors: 0, disconnects: 0 }

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    pubsub: gossipsub()
  }
})
const ps = node.services.pubsub

// Every message that reaches gossipsub from the wire passes through handleReceivedMessage,
// before the seen-cache check that drops duplicates.
const handle = ps.handleReceivedMessage.bind(ps)
ps.handleReceivedMessage = (from, rpcMsg) => {
  if (rpcMsg.topic === topic) counts.raw++
  return handle(from, rpcMsg)
}

const me = node.peerId.toString()
const neighbours = new Set()
ps.addEventListener('subscription-change', (ev) => {
  const peer = ev.detail.peerId.toString()
  for (const s of ev.detail.subscriptions) {
    if (s.topic === topic && s.subscribe && !neighbours.has(peer)) {
      neighbours.add(peer)
      out({ code: 'neighbor', peer })
    }
  }
})
ps.addEventListener('message', (ev) => {
  const t = now()
  const msg = ev.detail
  if (msg.topic !== topic) return
  counts.delivered++
  out({ code: 'post', time: t, from: msg.from?.toString() ?? '', text: new TextDecoder().decode(msg.data) })
})
ps.subscribe(topic)

// gossipsub forwards only to its mesh, which a heartbeat (1 s) builds from the neighbours: a
// peer with neighbours but no mesh yet would drop what it receives, so the script waits for this
const meshWait = setInterval(() => {
  const mesh = ps.getMeshPeers(topic).length
  if (mesh > 0) {
    clearInterval(meshWait)
    out({ code: 'mesh', n: mesh })
  }
}, 250)
node.addEventListener('peer:disconnect', () => { counts.disconnects++ })

const addr = node.getMultiaddrs()[0].toString()
writeFileSync(addrFile + '.tmp', addr + '\n')
renameSync(addrFile + '.tmp', addrFile)
out({ code: 'ready', id: me, addr })

let stopping = false
async function stop () {
  if (stopping) return
  stopping = true
  clearInterval(meshWait)
  out({ code: 'stats', ...counts })
  await node.stop().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

const enc = new TextEncoder()
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  if (line.startsWith('/dial ')) {
    for (const ma of line.slice(6).trim().split(/\s+/)) {
      node.dial(multiaddr(ma)).catch((err) => {
        counts.errors++
        process.stderr.write(`peer ${me}: dial ${ma}: ${err.message}\n`)
      })
    }
  } else if (line === '/stats') {
    out({ code: 'stats', ...counts })
  } else if (line.length > 0) {
    counts.published++
    ps.publish(topic, enc.encode(line)).catch((err) => {
      counts.errors++
      process.stderr.write(`peer ${me}: publish: ${err.message}\n`)
    })
  }
})
rl.on('close', stop)
