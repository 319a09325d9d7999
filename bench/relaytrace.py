#!/usr/bin/python3
"""relaytrace.py TRACE LATTRACE: where a relay latency tail came from (bench/relaytrace.sh runs it).

TRACE: ftrace text with sched_switch, sched_waking, sched_stat_runtime, ipi_send_cpu and
call_function_single_entry/reschedule_entry events of CPUs 0 (the server) and 1 (the generator),
trace_clock mono. LATTRACE: mrelay --lat-trace's per-millisecond lines.

Prints who ran on each CPU over the trial, the server's wake-up delays (sched_waking on the sender's
CPU to running on CPU 0), how long IPIs to CPU 0 took to be handled, and each tail episode (a run of
milliseconds whose packets saw 1 ms or more) put down to what happened within 3 ms before it to its
end: "vm" a stall of the virtual machine (an IPI to CPU 0 handled > 300 us late: the hypervisor was
not running CPU 0; or a task losing > 300 us of an on-CPU interval to steal, its accounted runtime
short of the wall time), "other" another process on CPU 0 or 1 for more than 200 us, "gen" the
generator sending >= 500 us late with neither, "none" nothing of these: the relay's own doing or
unexplained."""
import bisect
import collections
import re
import sys

EV = re.compile(r'\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)')
OURS = re.compile(r'^(rvserver|mrelay|swapper/\d+|ksoftirqd/\d+|rcu_\w+|migration/\d+|kworker.*)$')


def main(trace, lattrace):
    cur, acc, ran = {}, {}, {0: [], 1: []}
    other, lost, pend, ipi, wake = {0: [], 1: []}, [], [], [], []
    waking = None
    have_rt = False
    for line in open(trace, errors='replace'):
        m = EV.search(line)
        if not m:
            continue
        cpu, t, name, rest = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
        if cpu > 1:
            continue
        if name == 'sched_stat_runtime':
            have_rt = True
            acc[cpu] = acc.get(cpu, 0) + int(re.search(r'runtime=(\d+)', rest).group(1)) / 1e9
        elif name == 'sched_switch':
            nxt = re.search(r'next_comm=(.*?) next_pid', rest).group(1)
            if cpu in cur:
                s, comm = cur[cpu]
                ran[cpu].append((s, t, comm))
                if have_rt and not comm.startswith('swapper') and (t - s) - acc.get(cpu, 0) > 300e-6:
                    lost.append((s, t))
                if not OURS.match(comm):
                    other[cpu].append((s, t))
            cur[cpu], acc[cpu] = (t, nxt), 0
            if cpu == 0 and nxt == 'rvserver' and waking is not None:
                wake.append(t - waking)
                waking = None
        elif name == 'sched_waking' and 'comm=rvserver ' in rest and waking is None:
            waking = t
        elif name == 'ipi_send_cpu' and rest.startswith('cpu=0 ') and cpu != 0:
            pend.append(t)
        elif name in ('call_function_single_entry', 'reschedule_entry') and cpu == 0:
            for s in pend:
                ipi.append(t - s)
                if t - s > 300e-6:
                    lost.append((s, t))
            pend = []
    tr = []
    for line in open(lattrace):
        if not line.startswith('#'):
            ms, mono, n, over, mx, late = line.split()
            tr.append((float(mono), int(n), int(over), int(mx), int(late)))
    if not tr or not ran[0]:
        print("relaytrace: no latency samples or no trace")
        return 2
    a0, a1 = tr[0][0], tr[-1][0] + 0.001
    for cpu in (0, 1):
        tot, cnt, longest = collections.Counter(), collections.Counter(), collections.Counter()
        for s, e, c in ran[cpu]:
            if e > a0 and s < a1:
                d = min(e, a1) - max(s, a0)
                tot[c] += d
                cnt[c] += 1
                longest[c] = max(longest[c], d)
        print(f"CPU {cpu} over the trial:", ', '.join(
            f"{k} {100 * v / (a1 - a0):.1f} % (longest {1e6 * longest[k]:.0f} us)" for k, v in tot.most_common(6)))

    def pct(v, q):
        return 1e6 * v[min(len(v) - 1, int(len(v) * q))]
    for what, v in (("server wake-ups (waking -> running)", sorted(wake)), ("IPIs to CPU 0 (sent -> handled)", sorted(ipi))):
        if v:
            print(f"{what}: {len(v)}, p50 {pct(v, .5):.0f} us, p99 {pct(v, .99):.0f} us, p99.9 {pct(v, .999):.0f} us,"
                  f" max {1e6 * v[-1]:.0f} us, over 500 us: {sum(1 for x in v if x > 500e-6)}")
    if not have_rt:
        print("(no sched_stat_runtime events: steal inside on-CPU intervals not seen)")

    def overlap(iv, a, b):
        return sum(max(0.0, min(e, b) - max(s, a)) for s, e in iv if s < b and e > a)
    eps = []
    for x in tr:
        if x[2]:
            if eps and x[0] - eps[-1][-1][0] < 0.003:
                eps[-1].append(x)
            else:
                eps.append([x])
    total = sum(x[1] for x in tr)
    share, count = collections.Counter(), collections.Counter()
    for e in eps:
        a, b = e[0][0] - 0.003, e[-1][0] + 0.001 + max(x[3] for x in e) / 1e6
        vm = overlap(lost, a, b) > 0
        ot = overlap(other[0], a, b) > 200e-6 or overlap(other[1], a, b) > 200e-6
        late = any(y[4] >= 500 for y in tr if a <= y[0] <= b)
        c = 'vm+other' if vm and ot else 'vm' if vm else 'other' if ot else 'gen' if late else 'none'
        share[c] += sum(x[2] for x in e)
        count[c] += 1
    over = sum(share.values())
    print(f"samples {total}, of 1 ms or more {over} ({100 * over / max(1, total):.2f} %) in {len(eps)} episodes:")
    for k in ('vm', 'vm+other', 'other', 'gen', 'none'):
        print(f"  {k:9s} {100 * share[k] / max(1, total):6.2f} % of the samples, {count[k]} episodes")
    return 0


if __name__ == '__main__':
    if len(sys.argv) != 3:
        print(__doc__.splitlines()[0])
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
