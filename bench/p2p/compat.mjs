// bench/p2p/compat.mjs - Promise.withResolvers for Node.js < 22 (Debian 12 ships Node 18/20;
// libp2p 2.x's it-queue calls it). Imported first by peer.mjs, so it runs before libp2p loads.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
