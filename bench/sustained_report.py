"""bench/sustained.py's figures as a BENCHMARKS.md section and a memory plot (SVG)."""
from __future__ import annotations

import scoreboard_load as sl
from svgplot import line_chart

MB = 1024 * 1024


def _series(out: dict) -> dict[str, list[tuple[float, float]]]:
    s = out["samples"]
    return {
        "web app + driver": [(x["minute"], x["serve_rss"] / MB) for x in s],
        "sensors (all teams)": [(x["minute"], x["sensors_rss"] / MB) for x in s],
        "actuators + servers": [(x["minute"], x["actuators_rss"] / MB) for x in s],
        "total": [(x["minute"], (x["serve_rss"] + x["sensors_rss"] + x["actuators_rss"]) / MB) for x in s],
    }


def plot(out: dict) -> str:
    return line_chart(f"Resident memory, {out['teams']} live teams, {out['viewers']} viewers", "minute", "MB",
                      _series({**out, "samples": _running(out) or out["samples"]}))


def _slope(pts: list[tuple[float, float]]) -> float:
    """Least-squares slope (MB per minute) of the second half: growth after warm-up."""
    pts = pts[len(pts) // 2:]
    if len(pts) < 2:
        return 0.0
    n = len(pts)
    mx, my = sum(x for x, _ in pts) / n, sum(y for _, y in pts) / n
    den = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / den if den else 0.0


def _running(out: dict) -> list[dict]:
    """The samples taken while the session ran (after its end the sensors have stopped)."""
    return [x for x in out["samples"] if x["sensors_rss"] > 0]


def report(out: dict, command: str) -> str:
    s = out["samples"]
    if not s:
        return f"`{command}`: no sample was taken (the session ended before its first minute)."
    run = _running(out) or s
    series = _series({**out, "samples": run})
    rows = ["| minute | web app + driver MB | sensors MB | actuators MB (n) | records | sensor lag p50 / max | "
            "detection backlog max (rows) | horizon behind max | board API p50 / max | viewers open | load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in s:
        lags = [v for f in x["teams"].values() for v in f["lag"]]
        backlog = [f["backlog_rows"] or 0 for f in x["teams"].values()]
        behind = [f["horizon_behind"] for f in x["teams"].values() if f["horizon_behind"] is not None]
        rows.append(
            f"| {x['minute']}{'' if x in run else ' (ended)'} | {x['serve_rss'] / MB:.0f} | {x['sensors_rss'] / MB:.0f} | "  # noqa: E501
            f"{x['actuators_rss'] / MB:.0f} ({x['actuators']}) | "
            f"{sum(f['records'] for f in x['teams'].values()):,} | {sl.ms(sl.pct(lags, 50))} / "
            f"{sl.ms(max(lags) if lags else None)} | {max(backlog)} | "
            f"{f'{max(behind):.1f} s' if behind else '–'} | {sl.ms(sl.pct(x['api_lat'], 50))} / "
            f"{sl.ms(max(x['api_lat']) if x['api_lat'] else None)} | {x['viewers'].get('open', '–')} | "
            f"{x['load1']:.1f} |"
        )
    last = s[-1]
    tot = series["total"]
    web, sens = series["web app + driver"], series["sensors (all teams)"]
    api = [v for x in s for v in x["api_lat"]]
    failed = sum(x["api_failed"] for x in s)
    v = last["viewers"]
    lags = [x for m in s for f in m["teams"].values() for x in f["lag"]]
    lconn = [x for m in s for f in m["teams"].values() for x in f.get("lag_conn", [])]
    lines = [
        f"Command: `{command}` (root, the office images built; {out['teams']} teams of gov-office, one network copy "
        f"each, every reference rule deployed for every team ({out.get('rules_per_team', '?')} files), "
        f"{out['viewers']} server-sent-event viewers of the public board the whole time, "
        f"`GET /api/board/<session>` once a second). The range came up in {out.get('up_seconds', 0):.0f} s.",
        "",
        f"- Memory while the session ran (minutes 1-{run[-1]['minute']}): the web app with the session driver "
        f"{web[0][1]:.0f} MB at minute 1, {web[-1][1]:.0f} MB at the end, peak {max(y for _, y in web):.0f} MB, "
        f"{_slope(web):+.2f} MB/min over the second half; the {out['teams']} sensors (capture process, dumpcap, "
        f"tshark) {sens[0][1]:.0f} MB, then {sens[-1][1]:.0f} MB, {_slope(sens):+.2f} MB/min over the second half; "
        f"the actuators and intruder's servers come and go with the steps ({min(x['actuators'] for x in run)} to "
        f"{max(x['actuators'] for x in run)} processes, {min(y for _, y in series['actuators + servers']):.0f} to "
        f"{max(y for _, y in series['actuators + servers']):.0f} MB). All together at most "
        f"{max(y for _, y in tot):.0f} MB. Plot: `bench/sustained_memory.svg`.",
        f"- Event stores: {sum(f['records'] for f in last['teams'].values()):,} records in all at the end, "
        f"{sum(f['bytes'] for f in last['teams'].values()) / MB:.0f} MB of SQLite and "
        f"{sum(f['pcap_bytes'] for f in last['teams'].values()) / MB:.0f} MB of pcap ring.",
        "- Sensor lag (a record's write time minus its packet's time), all minutes: dns/http/arp p50 "
        f"{sl.ms(sl.pct(lags, 50))}, p95 {sl.ms(sl.pct(lags, 95))}; connections after their last packet p50 "
        f"{sl.ms(sl.pct(lconn, 50))}, p95 {sl.ms(sl.pct(lconn, 95))} (range.events writes a TCP connection 0.5 s "
        "after it closes, a UDP flow, mostly DNS, after 15 s without a packet, an idle TCP one after 300 s).",
        f"- Detection backlog (records written that the driver has not yet read, worst team): max "
        f"{max((f['backlog_rows'] or 0) for x in s for f in x['teams'].values())} rows over the run, "
        f"{max((f['backlog_rows'] or 0) for f in last['teams'].values())} at the last minute.",
        f"- Board API under the viewers: p50 {sl.ms(sl.pct(api, 50))}, p95 {sl.ms(sl.pct(api, 95))}, max "
        f"{sl.ms(max(api) if api else None)} over {len(api)} requests, {failed} failed. Viewers at the end: "
        f"{v.get('open', '–')} streams open, {v.get('updates', 0):,} updates delivered, {v.get('errors', 0)} stream "
        f"errors, {v.get('refused', 0)} refused (503).",
        f"- Load average: {out['load_start'][0]:.1f} before, {max(x['load1'] for x in s):.1f} at most during the run.",
    ]
    if out.get("results"):
        lines.append(
            "- Results: "
            + "; ".join(
                f"{t} {r['score']:.0f} points, recall {r['recall']:.2f}, precision "
                f"{(r['precision'] if r['precision'] is not None else 0):.2f}, {r['false_positives']} FP"
                for t, r in sorted(out["results"].items())
            )
            + "."
        )
    if out.get("sensor"):
        lines.append(
            "- Sensors at the end: "
            + "; ".join(
                f"{t} {st.get('packets', 0):,} packets, {st.get('dropped', 0)} dropped"
                for t, st in sorted(out["sensor"].items())
            )
            + "."
        )
    lines += ["", "Every minute:", "", *rows]
    return "\n".join(lines)
