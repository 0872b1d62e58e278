#!/usr/bin/env python3
"""Figures for docs/PERFORMANCE.md from the load test's outputs (standard library only).

  report.py summary REPORT.json            one line per request name: rps, p50/p95/p99, failures
  report.py pgbench LOG…                   tps and latency percentiles from `pgbench -l` logs
  report.py plot REPORT.json TICKETS.csv DIR [REQUESTS.csv]
                                           SVG plots: requests/s and p99 over time (goose
                                           report, request log when given), queue length
                                           and estimated vs. actual wait over the morning
  report.py ratio BASE.json RUN.json [BASE.json RUN.json …]
                                           each run's rate over its baseline's, and the
                                           median of the pairs
  report.py versus NAIVE-rate.txt RUN.json [NAIVE-rate.txt RUN.json …]
                                           each run's successful (201) bookings a second
                                           over the naive design's tx/s, and the median
  report.py slowlog FILE                   Redis's slowest commands from `redis-cli slowlog get`
  report.py room ACKS.jsonl OPENS_MS SEATS [DIR]
                                           the waiting room: outcomes, order, how fast the
                                           waiting learnt the seats were gone, SVG plot
"""
import csv
import json
import re
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone

TOKYO = timezone(timedelta(hours=9))


def percentile(sorted_values, q):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def summary(path):
    report = json.load(open(path))
    times = {r["name"]: r for r in report["raw_response_metrics"]}
    name = path.rsplit("/", 1)[-1].removesuffix(".json")
    for r in report["raw_request_metrics"]:
        t = times.get(r["name"], {})
        print(
            f"{name:<24} {r['name']:<28} {r['requests_per_second']:>9.0f} req/s  "
            f"p50 {t.get('percentile_50', '-')} ms  p95 {t.get('percentile_95', '-')} ms  "
            f"p99 {t.get('percentile_99', '-')} ms  max {t.get('percentile_100', '-')} ms  "
            f"requests {r['number_of_requests']}  failures {r['number_of_failures']}"
        )
    statuses = "; ".join(f"{s['name']}: {s['status_codes']}" for s in report["status_code_metrics"])
    print(f"{name:<24} status codes: {statuses}")


def rate(path):
    """Requests a second of a goose report, all request names together."""
    report = json.load(open(path))
    return sum(
        r["requests_per_second"] for r in report["raw_request_metrics"] if r["name"] != "Aggregated"
    )


def booked(path):
    """Successful (201) answers a second of a goose report, over its measured window."""
    report = json.load(open(path))
    codes = next(m["status_codes"] for m in report["status_code_metrics"] if m["name"] == "Aggregated")
    created = sum(
        int(count.replace(",", "")) for count, code in re.findall(r"([\d,]+) \[(\d+)\]", codes) if code == "201"
    )
    return created / report["raw_metrics"]["duration"]


def pgbench_rate(path):
    """Transactions a second from the line `report.py pgbench` printed."""
    return float(re.search(r"(\d+) tx/s", open(path).read()).group(1))


def median_ratio(name, pairs):
    """Each run's rate over its baseline's, and their median: pairs of (baseline, run)."""
    ratios = sorted(r / b for b, r in pairs if b > 0)
    listed = ", ".join(f"{r:.0f}/{b:.0f} = {r / b:.2f}" for b, r in pairs if b > 0)
    middle = len(ratios) // 2
    median = ratios[middle] if len(ratios) % 2 else sum(ratios[middle - 1 : middle + 1]) / 2
    print(f"{name:<24} ratio to the baseline: median {median:.2f} of {len(ratios)} ({listed})")


def ratio(paths):
    pairs = [(rate(b), rate(r)) for b, r in zip(paths[0::2], paths[1::2])]
    median_ratio(paths[1].rsplit("/", 1)[-1].removesuffix(".json"), pairs)


def versus(paths):
    pairs = [(pgbench_rate(n), booked(r)) for n, r in zip(paths[0::2], paths[1::2])]
    name = paths[1].rsplit("/", 1)[-1].removesuffix(".json").rsplit("-", 1)[0]
    median_ratio(f"{name} vs naive", pairs)


def pgbench(paths):
    # pgbench -l: client transaction_no latency_us script_no epoch_s epoch_us
    latencies, first, last = [], None, None
    for path in paths:
        for line in open(path):
            parts = line.split()
            if len(parts) < 6:
                continue
            latencies.append(int(parts[2]) / 1000.0)
            stamp = int(parts[4]) + int(parts[5]) / 1e6
            first = stamp if first is None else min(first, stamp)
            last = stamp if last is None else max(last, stamp)
    latencies.sort()
    span = max((last or 0) - (first or 0), 1e-9)
    name = paths[0].rsplit("/", 1)[-1].split(".")[0] if paths else "pgbench"
    print(
        f"{name:<24} {len(latencies) / span:>9.0f} tx/s  p50 {percentile(latencies, 0.5):.1f} ms  "
        f"p95 {percentile(latencies, 0.95):.1f} ms  p99 {percentile(latencies, 0.99):.1f} ms  "
        f"transactions {len(latencies)}"
    )


# ------------------------------------------------------------------ SVG

def slowlog(path):
    """The slowest commands of a `redis-cli slowlog get N` dump (entries are blank-line
    separated: id, unix time, microseconds, command and arguments, client, name)."""
    entries = []
    for block in open(path).read().split("\n\n"):
        lines = block.strip().split("\n")
        if len(lines) >= 4 and lines[2].isdigit():
            entries.append((int(lines[2]), lines[3].upper()))
    entries.sort(reverse=True)
    longest = ", ".join(f"{command} {us / 1000:.1f} ms" for us, command in entries[:5])
    print(f"redis commands over the threshold: {len(entries)}; longest: {longest or 'none'}")


def svg_chart(path, title, x_label, series, y_label, x_ticks=None):
    """Line chart: series = [(label, colour, [(x, y)…])]."""
    width, height, left, right, top, bottom = 760, 340, 70, 20, 40, 50
    xs = [x for _, _, pts in series for x, _ in pts] or [0, 1]
    ys = [y for _, _, pts in series for _, y in pts] or [0, 1]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y1 = max(ys) * 1.1 if max(ys) > 0 else 1

    def sx(x):
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y):
        return height - bottom - y / y1 * (height - top - bottom)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
        f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">{x_label}</text>',
        f'<text x="15" y="{height / 2}" transform="rotate(-90 15 {height / 2})" text-anchor="middle">{y_label}</text>',
    ]
    for i in range(5):
        y = y1 * i / 4
        out.append(f'<text x="{left - 5}" y="{sy(y) + 4}" text-anchor="end">{y:.0f}</text>')
        out.append(f'<line x1="{left}" y1="{sy(y)}" x2="{width - right}" y2="{sy(y)}" stroke="#ddd"/>')
    for x, label in x_ticks or [(x0 + (x1 - x0) * i / 5, f"{x0 + (x1 - x0) * i / 5:.0f}") for i in range(6)]:
        out.append(f'<text x="{sx(x)}" y="{height - bottom + 16}" text-anchor="middle">{label}</text>')
    for n, (label, colour, pts) in enumerate(series):
        if pts:
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{d}"/>')
        out.append(f'<rect x="{left + 10 + n * 190}" y="{top - 4}" width="12" height="3" fill="{colour}"/>')
        out.append(f'<text x="{left + 26 + n * 190}" y="{top}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))
    print(f"wrote {path}")


def plot(report_path, tickets_path, out_dir, requests_path=None):
    import os

    os.makedirs(out_dir, exist_ok=True)
    report = json.load(open(report_path))
    rps = defaultdict(float)
    for series in report["graphs"]["requests_per_second"].values():
        for i, n in enumerate(series["data"]):
            rps[series["origin"] + i] += n
    series = [("requests/s (all)", "#1f77b4", sorted(rps.items()))]
    if requests_path:
        per_second = defaultdict(list)
        for row in csv.DictReader(open(requests_path)):
            per_second[int(row["elapsed"]) // 1000].append(int(row["response_time_us"]) / 1000.0)
        p99 = [(s, percentile(sorted(v), 0.99)) for s, v in sorted(per_second.items())]
        svg_chart(f"{out_dir}/rush-p99.svg", "p99 response time per second of the run", "seconds",
                  [("p99 (ms)", "#d62728", p99)], "ms")
    svg_chart(f"{out_dir}/rush-rps.svg", "Requests per second during the simulated morning", "seconds", series, "req/s")

    tickets = list(csv.DictReader(open(tickets_path)))
    events = []
    waits = []
    for t in tickets:
        issued = datetime.fromisoformat(t["issued_at"]).astimezone(TOKYO)
        events.append((issued, 1))
        if t["called_at"]:
            called = datetime.fromisoformat(t["called_at"]).astimezone(TOKYO)
            events.append((called, -1))
            waits.append((issued, (called - issued).total_seconds() / 60))
    if not events:
        return
    events.sort()
    start = events[0][0].replace(minute=(events[0][0].minute // 30) * 30, second=0, microsecond=0)

    def minutes(t):
        return (t - start).total_seconds() / 60

    waiting, queue = 0, []
    for at, step in events:
        waiting += step
        queue.append((minutes(at), waiting))
    ticks = [(m, (start + timedelta(minutes=m)).strftime("%H:%M")) for m in range(0, int(queue[-1][0]) + 30, 30)]
    svg_chart(f"{out_dir}/rush-queue.svg", "People waiting (all offices) over the simulated morning",
              "Tokyo time (simulated)", [("waiting", "#2ca02c", queue)], "people", ticks)

    # Estimated (shown at issue) vs. actual wait, averaged per 10 simulated minutes.
    estimates = {}
    acks_path = os.path.join(os.path.dirname(tickets_path), "acks-rush.jsonl")
    if os.path.exists(acks_path):
        for line in open(acks_path):
            ack = json.loads(line)
            if ack.get("kind") == "ticket" and ack.get("estimate_p50") is not None:
                estimates[(ack["office"], ack["number"])] = ack["estimate_p50"]
    actual_bins, estimate_bins = defaultdict(list), defaultdict(list)
    for t in tickets:
        issued = datetime.fromisoformat(t["issued_at"]).astimezone(TOKYO)
        b = int(minutes(issued) // 10) * 10
        if t["called_at"]:
            called = datetime.fromisoformat(t["called_at"]).astimezone(TOKYO)
            actual_bins[b].append((called - issued).total_seconds() / 60)
        if (t["office"], t["display"]) in estimates:
            estimate_bins[b].append(estimates[(t["office"], t["display"])])
    mean = lambda v: sum(v) / len(v)
    svg_chart(
        f"{out_dir}/rush-wait.svg", "Wait shown at the kiosk (P50 estimate) vs. actual wait, by issue time",
        "Tokyo time of issue (simulated)",
        [("estimated (min)", "#ff7f0e", [(b, mean(v)) for b, v in sorted(estimate_bins.items())]),
         ("actual (min, called tickets)", "#9467bd", [(b, mean(v)) for b, v in sorted(actual_bins.items())])],
        "minutes", ticks,
    )


def room(acks_path, opens_at_ms, seats, out_dir=None, name="room"):
    """The waiting-room run: outcomes, admission order vs arrival order outside the
    pre-queue, how fast waiting visitors learnt the seats were gone, and a plot."""
    opens = int(opens_at_ms)
    seats = int(seats)
    visitors, bookings = [], 0
    with open(acks_path) as f:
        for line in f:
            a = json.loads(line)
            if a["kind"] == "visitor":
                visitors.append(a)
            elif a["kind"] == "booking":
                bookings += 1
    outcomes = {}
    for v in visitors:
        outcomes[v["outcome"]] = outcomes.get(v["outcome"], 0) + 1
    print(f"room visitors {len(visitors)}: " + ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items())))
    print(f"room bookings acknowledged {bookings} of {seats} seats")
    admitted = [v for v in visitors if v.get("admitted_ms")]
    # Admission order against arrival order, for those who joined after the opening
    # (the pre-queue is drawn at random on purpose). Same-advance ties are not inversions.
    later = sorted((v for v in admitted if v["joined_ms"] >= opens), key=lambda v: v["joined_ms"])
    inversions = 0
    for i, a in enumerate(later):
        for b in later[i + 1:]:
            if a["admitted_ms"] > b["admitted_ms"] and a["position"] < b["position"]:
                inversions += 1
    by_position = sorted(admitted, key=lambda v: v["position"])
    position_inversions = sum(
        1 for i in range(1, len(by_position)) if by_position[i]["admitted_ms"] < by_position[i - 1]["admitted_ms"]
    )
    print(f"room admitted {len(admitted)}; joined after the opening {len(later)}; "
          f"arrival/admission inversions {inversions}; position-order breaks {position_inversions}")
    booked_at = sorted(v["booked_ms"] for v in visitors if v.get("booked_ms"))
    told = sorted(v["told_closed_ms"] for v in visitors if v.get("told_closed_ms"))
    if booked_at and told:
        sold_out = booked_at[-1]
        # Those waiting when the last seat went: how long until they were told. Those who
        # came later: how long from joining to the answer.
        waiting = sorted(v["told_closed_ms"] - sold_out for v in visitors
                         if v.get("told_closed_ms") and v["joined_ms"] <= sold_out)
        later_told = sorted(v["told_closed_ms"] - v["joined_ms"] for v in visitors
                            if v.get("told_closed_ms") and v["joined_ms"] > sold_out)
        for label, delays in (("waiting when the last seat went", waiting), ("arriving afterwards", later_told)):
            if delays:
                print(f"room told 'all slots taken', {label}: {len(delays)} visitors, "
                      f"p50 {percentile(delays, 0.5) / 1000:.1f} s, p99 {percentile(delays, 0.99) / 1000:.1f} s, "
                      f"max {delays[-1] / 1000:.1f} s")
    if out_dir:
        t0 = min(v["joined_ms"] for v in visitors)
        end = max(max(v.get(k) or 0 for k in ("joined_ms", "admitted_ms", "booked_ms", "told_closed_ms")) for v in visitors)
        series = {"waiting": [], "admitted": [], "remaining seats": []}
        for second in range(0, (end - t0) // 1000 + 2):
            t = t0 + second * 1000
            joined = sum(1 for v in visitors if v["joined_ms"] <= t)
            adm = sum(1 for v in visitors if v.get("admitted_ms") and v["admitted_ms"] <= t)
            gone = sum(1 for v in visitors if v.get("told_closed_ms") and v["told_closed_ms"] <= t)
            booked = sum(1 for b in booked_at if b <= t)
            series["waiting"].append((second, joined - adm - gone))
            series["admitted"].append((second, adm))
            series["remaining seats"].append((second, seats - booked))
        svg_chart(
            f"{out_dir}/{name}.svg", "Waiting room: visitors and seats over time (s from the first arrival)", "seconds",
            [("waiting", "#1f77b4", series["waiting"]), ("admitted", "#2ca02c", series["admitted"]),
             ("remaining seats", "#d62728", series["remaining seats"])],
            "visitors / seats",
        )


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "summary":
        summary(args[0])
    elif command == "pgbench":
        pgbench(args)
    elif command == "plot":
        plot(*args)
    elif command == "ratio":
        ratio(args)
    elif command == "versus":
        versus(args)
    elif command == "slowlog":
        slowlog(args[0])
    elif command == "room":
        room(*args)
    else:
        sys.exit(__doc__)
