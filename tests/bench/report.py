#!/usr/bin/env python3
# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# Turns the raw measurements of ci/bench.sh into the report:
#   report.py RAW_CSV META_TXT OUT_DIR
# RAW_CSV has one row per measurement (pass,case,server,run,metric,value);
# every figure reported is the median over the runs. Writes results.md,
# results.csv, the gnuplot data (msgs.dat, instr.dat) and charts.gp, which
# draws msgs_per_sec.png and instr_per_msg.png when run in OUT_DIR.

import csv
import statistics
import sys
from collections import defaultdict

SERVERS = ["pocore-epoll-rec", "pocore-epoll-fn", "pocore-uring-rec", "pocore-uring-fn", "asio",
           "floor-epoll", "floor-uring"]
CASES = ["1x64B", "64x64B", "1000x64B", "64x16KiB-stream", "2thr-64x64B"]
DESCRIBE = {
    "pocore-epoll-rec": "pocore, epoll, operation records",
    "pocore-epoll-fn": "pocore, epoll, convenience layer (lambdas)",
    "pocore-uring-rec": "pocore, io_uring, operation records",
    "pocore-uring-fn": "pocore, io_uring, convenience layer (lambdas)",
    "asio": "Boost.Asio, callbacks (the reference)",
    "floor-epoll": "hand-written epoll loop (the floor)",
    "floor-uring": "hand-written liburing loop (the floor)",
}
METRICS = ["msgs_per_sec", "mb_per_sec", "p50_us", "p99_us", "cpu_us_per_msg", "instr_per_msg",
           "syscalls_per_msg", "allocs_per_msg"]


def floor_of(server):
    return "floor-uring" if "uring" in server else "floor-epoll"


def main():
    raw_path, meta_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    values = defaultdict(list)  # (case, server, metric) -> [values]
    errors = defaultdict(int)
    with open(raw_path) as f:
        for row in csv.DictReader(f):
            if row["metric"] == "errors":
                errors[(row["case"], row["server"])] += 1
                continue
            try:
                values[(row["case"], row["server"], row["metric"])].append(float(row["value"]))
            except ValueError:
                pass
    med = {k: statistics.median(v) for k, v in values.items() if v}
    runs = {k: len(v) for k, v in values.items()}
    cases = [c for c in CASES if any(k[0] == c for k in med)]
    servers = [s for s in SERVERS if any(k[1] == s for k in med)]

    def get(case, server, metric):
        return med.get((case, server, metric))

    def fmt(v, metric):
        if v is None:
            return "–"
        if metric in ("msgs_per_sec",):
            return f"{v:,.0f}"
        if metric in ("instr_per_msg", "rss_per_conn"):
            return f"{v:,.0f}"
        if metric in ("syscalls_per_msg", "allocs_per_msg"):
            return f"{v:.2f}" if v >= 0.1 or v == 0 else f"{v:.3f}"
        if metric in ("cpu_us_per_msg",):
            return f"{v:.2f}"
        return f"{v:,.1f}"

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    def fmt_ratio(r):
        return "–" if r is None else f"{r:.2f}×"

    meta = open(meta_path).read().strip().splitlines()
    md = ["# pocore benchmark results", ""]
    md += ["Produced by `ci/bench.sh`; do not edit by hand.", ""]
    md += [f"- {line}" for line in meta]
    md += ["",
           "Echo servers on 127.0.0.1, server and load client pinned to different cores; every "
           "echoed byte is checked. Wall-clock figures (msgs/s, MB/s, latency, CPU) are medians of "
           "the timed runs and swing ±15% on a shared machine; **instructions per message** "
           "(user space, callgrind, difference of two message counts) repeat to within about 1% "
           "and are what to rank by. System calls per message are counted by `perf stat -e "
           "raw_syscalls:sys_enter` on the server during the measured phase, heap allocations by "
           "an LD_PRELOAD malloc counter.", ""]
    md += ["Servers:", ""]
    md += [f"- `{s}`: {DESCRIBE[s]}" for s in servers]
    md += [""]

    # Headline: the figures the targets name.
    md += ["## Summary", ""]
    md += ["| server | instr/msg 64×64 B | syscalls/msg 1×64 B | syscalls/msg 64×64 B | "
           "allocs/msg 64×64 B | RSS/idle conn (B) | msgs/s 64×64 B | msgs/s 1×64 B |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in servers:
        md.append("| " + " | ".join([
            f"`{s}`",
            fmt(get("64x64B", s, "instr_per_msg"), "instr_per_msg"),
            fmt(get("1x64B", s, "syscalls_per_msg"), "syscalls_per_msg"),
            fmt(get("64x64B", s, "syscalls_per_msg"), "syscalls_per_msg"),
            fmt(get("64x64B", s, "allocs_per_msg"), "allocs_per_msg"),
            fmt(get("idle1000", s, "rss_per_conn"), "rss_per_conn"),
            fmt(get("64x64B", s, "msgs_per_sec"), "msgs_per_sec"),
            fmt(get("1x64B", s, "msgs_per_sec"), "msgs_per_sec"),
        ]) + " |")
    md += [""]

    # The targets, measured (figures, not tests).
    targets = []

    def target(what, value, limit, ok_if_le=True, fmt_metric="instr_per_msg"):
        if value is None or limit is None:
            targets.append((what, "–", "–", "not measured"))
            return
        met = value <= limit if ok_if_le else value >= limit
        off = "" if met else f" (by {fmt(abs(value - limit), fmt_metric)})"
        targets.append((what, fmt(value, fmt_metric), fmt(limit, fmt_metric),
                        "met" if met else "missed" + off))

    target("pocore epoll records: instr/msg at 64×64 B ≤ 200",
           get("64x64B", "pocore-epoll-rec", "instr_per_msg"), 200)
    target("pocore epoll records: syscalls/msg at 1×64 B ≤ 3 (floor 3)",
           get("1x64B", "pocore-epoll-rec", "syscalls_per_msg"), 3.0, True, "syscalls_per_msg")
    target("pocore epoll convenience: instr/msg at 64×64 B ≤ 400",
           get("64x64B", "pocore-epoll-fn", "instr_per_msg"), 400)
    target("pocore io_uring records: syscalls/msg at 64×64 B ≤ 0.1",
           get("64x64B", "pocore-uring-rec", "syscalls_per_msg"), 0.1, True, "syscalls_per_msg")
    target("pocore io_uring records: instr/msg at 64×64 B ≤ 250",
           get("64x64B", "pocore-uring-rec", "instr_per_msg"), 250)
    for s in ("pocore-epoll-rec", "pocore-uring-rec"):
        worst = [get(c, s, "allocs_per_msg") for c in cases]
        worst = [w for w in worst if w is not None]
        target(f"{s}: allocs/msg = 0 (worst case)", max(worst) if worst else None, 0.0, True,
               "allocs_per_msg")
    for s in ("pocore-epoll-rec", "pocore-uring-rec"):
        fl = get("idle1000", floor_of(s), "rss_per_conn")
        target(f"{s}: RSS/idle conn ≤ {floor_of(s)} + 256 B",
               get("idle1000", s, "rss_per_conn"), None if fl is None else fl + 256, True,
               "rss_per_conn")
    for s in ("pocore-epoll-rec", "pocore-epoll-fn", "pocore-uring-rec", "pocore-uring-fn"):
        target(f"{s}: msgs/s at 64×64 B ≥ Asio (wall clock, indicative)",
               get("64x64B", s, "msgs_per_sec"), get("64x64B", "asio", "msgs_per_sec"), False,
               "msgs_per_sec")
    md += ["## Targets of issue 4 (benchmark figures, not tests)", ""]
    md += ["| target | measured | limit | |", "| --- | ---: | ---: | --- |"]
    md += [f"| {w} | {v} | {l} | {r} |" for w, v, l, r in targets]
    md += [""]

    md += ["## Per case", "",
           "Ratios: ×Asio and ×floor divide this server's figure by Boost.Asio's and by the floor "
           "of its backend (the epoll loop for epoll-based servers and Asio, the liburing loop "
           "for io_uring) in the same case. The 2-thread case runs pocore's port and Asio's "
           "io_context on 2 threads each (pinned to the server's core, so it shows the cost of "
           "sharing, not a speed-up); it has no floor, and io_uring is not run under callgrind "
           "there (valgrind runs one thread at a time and the 2-thread io_uring server stalls "
           "under it).", ""]
    csv_rows = []
    for c in cases:
        md += [f"### {c}", ""]
        md += ["| server | msgs/s | ×Asio | ×floor | MB/s | p50 µs | p99 µs | CPU µs/msg | "
               "instr/msg | ×Asio | ×floor | syscalls/msg | allocs/msg | runs |",
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
               "| ---: | ---: |"]
        for s in servers:
            if not any(get(c, s, m) is not None for m in METRICS):
                continue
            fl = None if c.startswith("2thr") else floor_of(s)
            r = {m: get(c, s, m) for m in METRICS}
            ra_m = ratio(r["msgs_per_sec"], get(c, "asio", "msgs_per_sec"))
            rf_m = ratio(r["msgs_per_sec"], get(c, fl, "msgs_per_sec")) if fl else None
            ra_i = ratio(r["instr_per_msg"], get(c, "asio", "instr_per_msg"))
            rf_i = ratio(r["instr_per_msg"], get(c, fl, "instr_per_msg")) if fl else None
            n = runs.get((c, s, "msgs_per_sec"), 0)
            err = errors.get((c, s), 0)
            md.append("| " + " | ".join([
                f"`{s}`", fmt(r["msgs_per_sec"], "msgs_per_sec"), fmt_ratio(ra_m),
                fmt_ratio(rf_m), fmt(r["mb_per_sec"], "mb_per_sec"), fmt(r["p50_us"], "p50_us"),
                fmt(r["p99_us"], "p99_us"), fmt(r["cpu_us_per_msg"], "cpu_us_per_msg"),
                fmt(r["instr_per_msg"], "instr_per_msg"), fmt_ratio(ra_i), fmt_ratio(rf_i),
                fmt(r["syscalls_per_msg"], "syscalls_per_msg"),
                fmt(r["allocs_per_msg"], "allocs_per_msg"),
                f"{n}" + (f" ({err} failed)" if err else ""),
            ]) + " |")
            csv_rows.append([c, s] + [("" if r[m] is None else f"{r[m]:.4g}") for m in METRICS] +
                            [("" if x is None else f"{x:.3f}") for x in (ra_m, rf_m, ra_i, rf_i)] +
                            [n, err])
        md += [""]

    md += ["### 1000 idle connections", "",
           "Server RSS with 1000 idle connections (each has exchanged one 64 B message and has a "
           "receive pending into its 16 KiB buffer, as in every server) minus RSS before them, "
           "per connection.", ""]
    md += ["| server | bytes/connection | − floor | runs |", "| --- | ---: | ---: | ---: |"]
    for s in servers:
        v = get("idle1000", s, "rss_per_conn")
        if v is None:
            continue
        fl = get("idle1000", floor_of(s), "rss_per_conn")
        d = None if fl is None else v - fl
        md.append(f"| `{s}` | {v:,.0f} | {'–' if d is None else f'{d:+,.0f}'} | "
                  f"{runs.get(('idle1000', s, 'rss_per_conn'), 0)} |")
        csv_rows.append(["idle1000", s] + [""] * len(METRICS) + [""] * 4 +
                        [runs.get(("idle1000", s, "rss_per_conn"), 0), 0, f"{v:.0f}"])
    md += ["", "Charts: [msgs/s](msgs_per_sec.png), [instructions/msg](instr_per_msg.png).", ""]

    with open(f"{out}/results.md", "w") as f:
        f.write("\n".join(md))
    with open(f"{out}/results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "server"] + METRICS +
                   ["msgs_vs_asio", "msgs_vs_floor", "instr_vs_asio", "instr_vs_floor", "runs",
                    "failed_runs", "rss_per_conn"])
        for row in csv_rows:
            w.writerow(row + [""] * (len(METRICS) + 9 - len(row)))

    # gnuplot: one cluster per case, one bar per server.
    for name, metric in (("msgs", "msgs_per_sec"), ("instr", "instr_per_msg")):
        with open(f"{out}/{name}.dat", "w") as f:
            f.write("case " + " ".join(servers) + "\n")
            for c in [c for c in cases if any(get(c, s, metric) is not None for s in servers)]:
                f.write(c + " " + " ".join(
                    "-" if get(c, s, metric) is None else f"{get(c, s, metric):.1f}"
                    for s in servers) + "\n")
    cols = len(servers)
    plot = ", ".join(f"'{{f}}' using {i + 2}:xtic(1) title columnheader({i + 2})"
                     for i in range(cols))
    gp = ["set terminal pngcairo size 1100,520 noenhanced",
          "set datafile missing '-'",
          "set style data histograms",
          "set style histogram clustered gap 1",
          "set style fill solid 0.85 border -1",
          "set key outside right top vertical",
          "set grid ytics",
          "set yrange [0:*]",
          "set output 'msgs_per_sec.png'",
          "set title 'messages per second (median; wall clock, indicative on a shared machine)'",
          "set ylabel 'messages/s'",
          "plot " + plot.format(f="msgs.dat"),
          "set output 'instr_per_msg.png'",
          "set title 'user-space instructions per message (callgrind; lower is better)'",
          "set ylabel 'instructions/message'",
          "set logscale y",
          "set yrange [10:*]",
          "plot " + plot.format(f="instr.dat")]
    with open(f"{out}/charts.gp", "w") as f:
        f.write("\n".join(gp) + "\n")


if __name__ == "__main__":
    main()
