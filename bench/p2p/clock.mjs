// bench/p2p/clock.mjs - Unix time in ms with a fraction, comparable across processes.
//
// performance.timeOrigin + performance.now() is not: under load, Node's timeOrigin can be off by
// the seconds the process took to start. Here the offset from the monotonic clock (shared by every
// process on the host) to Date.now() is taken once, at a millisecond edge of Date.now(), so it is
// right to a few microseconds (the highest of three samples); rvgroup stamps its "time" with the same wall clock.
const mono = () => Number(process.hrtime.bigint()) / 1e6
function sample () {
  const edge = Date.now()
  let d
  while ((d = Date.now()) === edge);
  return d - mono()
}
// a preempted sample reads the monotonic clock late and comes out low: keep the highest of three
const offset = Math.max(sample(), sample(), sample())

export const now = () => mono() + offset
