"""The benchmark's output: a Markdown table of figures against targets, and the full JSON.

Each row says what was measured, the issue's target and whether it was met. Losses and
duplicates are part of the measured figures of every delivery scenario, and any of them fails it.
"""

from __future__ import annotations

import orjson

from bench.disk import CALM_DISK_MS
from bench.procs import ROOT

RESULTS = ROOT / "bench" / "results"


def _lat(r: dict, key: str = "latency") -> str:
    lat = r[key]
    return f"p50 {lat['p50_ms']} ms, p90 {lat['p90_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms"


def _counts(r: dict) -> str:
    text = f"lost {r['lost']}, dup {r['duplicates']}"
    if r.get("unacked"):
        text += f", unacked {r['unacked']}"
    if r.get("dropped_connections"):
        text += f", dropped {r['dropped_connections']}"
    return text


def _clean(r: dict) -> bool:
    return (
        r["lost"] == 0
        and r["duplicates"] == 0
        and r.get("unacked", 0) == 0
        and r.get("out_of_order", 0) == 0
        and r.get("dropped_connections", 0) == 0
    )


def _le(value, limit) -> bool:
    return value is not None and value <= limit


def _row1(r):
    rounds = r["rounds"]
    worst, floor = r["worst_p99_ms"], r["floor_worst_p99_ms"]
    ok = (
        _le(worst, 25)
        and floor is not None
        and _le(worst, 1.5 * floor)
        and all(_le(x["ours"]["latency"]["p50_ms"], 10) and _clean(x["ours"]) for x in rounds)
    )
    per_round = ", ".join(
        f"{_ours_floor(x, 'latency', 'p99_ms')} (worst second {_ours_floor(x, 'worst_second_p99_ms')};"
        f" disk's slowest fsync {_ours_floor(x, 'usage', 'disk_slowest_fsync_ms')})"
        for x in rounds
    )
    lost = sum(x["ours"]["lost"] for x in rounds)
    dup = sum(x["ours"]["duplicates"] for x in rounds)
    got = (
        f"{len(rounds)} rounds, ours/floor p99 ms: {per_round}; worst p99 {worst} ms "
        f"(best {r['best_p99_ms']}), floor's worst {floor} ms: {r['worst_ratio']}x; "
        f"on a calm disk (no fsync over {CALM_DISK_MS} ms), {r.get('calm_disk_rounds')} rounds, worst p99 "
        f"{r.get('calm_disk_worst_p99_ms')} ms: {r.get('calm_disk_worst_ratio')}x; "
        f"p50 {', '.join(str(x['ours']['latency']['p50_ms']) for x in rounds)} ms; "
        f"{rounds[-1]['ours']['deliveries_per_s']}/s; lost {lost}, dup {dup}"
    )
    return got, "worst round p99 <= 25 ms and <= 1.5x the floor's worst, p50 <= 10 ms, nothing lost", ok


def _ours_floor(round_: dict, *path: str) -> str:
    """``ours/floor``: one figure of a round of scenario 1, found by its keys (None if missing)."""

    def figure(run):
        for key in path:
            run = run.get(key) if isinstance(run, dict) else None
        return run

    return f"{figure(round_['ours'])}/{figure(round_['floor'])}"


def _row2(r):
    ok = r["deliveries_per_s"] >= 15_000 and _le(r["latency"]["p99_ms"], 100) and _clean(r)
    asked = f"{r['asked_deliveries_per_s']:.0f}"
    got = f"{r['deliveries_per_s']} deliveries/s of {asked} asked; {_lat(r)}; {_counts(r)}"
    return got, ">= 15,000/s, p99 <= 100 ms", ok


def _row3(r):
    live = r["liveness"] or {}
    ok = r["opened"] >= 10_000 and _le(r["front_kib_per_connection"], 30) and live.get("lost") == 0
    got = (
        f"{r['opened']} open in {r['open_s']} s; front {r['front_rss_before_mib']} -> "
        f"{r['front_rss_idle_mib']} MiB = {r['front_kib_per_connection']} KiB/conn idle "
        f"({r['front_kib_per_connection_after_broadcast']} after one broadcast); one broadcast: "
        f"{live.get('received')}/{live.get('expected')} delivered"
    )
    if r["error"]:
        got += f"; {r['error']}"
    return got, "10,000 open, <= 30 KiB per connection", ok


def _row4(r):
    ok = _le(r["ack_latency"]["p50_ms"], 3) and _le(r["ack_latency"]["p99_ms"], 10) and _clean(r)
    got = f"ack {_lat(r, 'ack_latency')}; {_counts(r)}"
    path = r.get("ack_path")
    if path:
        got += (
            f"; below the front server, one at a time: fsync alone {_lat(path, 'fsync_alone')}, "
            f"the backend's POST {_lat(path, 'backend_post')}"
        )
    return got, "ack p50 <= 3 ms, p99 <= 10 ms", ok


def _row5(r):
    s, again = r["startup"], r.get("restart") or {}
    ok = _le(r["latest_50"]["p50_ms"], 5) and _le(s["healthy_s"], 5) and _le(again.get("healthy_s"), 5)
    got = (
        f"latest 50: {_lat(r, 'latest_50')} (middle page p50 {r['middle_50']['p50_ms']} ms); "
        f"backend start {s['healthy_s']} s ({s.get('cpu_s')} s of CPU) with no checkpoint (one written"
        f" {s.get('checkpoint_written_s')} s later), restart from it {again.get('healthy_s')} s"
        f" ({again.get('cpu_s')} s of CPU); RSS {s['backend_rss_mib']} MiB on"
        f" {r['messages']:,} messages "
        f"({r.get('changed_share', 0):.0%} of them edited or deleted) "
        f"({r['events_file_mib']} MiB)"
    )
    return got, "p50 <= 5 ms, start and restart <= 5 s", ok


def _row6(r):
    ok = _le(r["latency"]["p50_ms"], 50) and _clean(r) and not r["pollers_failed"] and not r["post_failures"]
    got = f"{_lat(r)}; {_counts(r)}"
    if r["pollers_failed"] or r["post_failures"]:
        got += f"; pollers failed {r['pollers_failed']}, posts failed {r['post_failures']}"
    return got, "delivery p50 <= 50 ms", ok


def _row7(r):
    floor, ratio = r["s2"]["floor"], r["s2"]["ratios"]
    got = (
        f"floor s2: p50 {floor['latency']['p50_ms']} ms, p99 {floor['latency']['p99_ms']} ms, "
        f"{floor['deliveries_per_s']}/s, {_counts(floor)}"
        + (f"; ours/floor p99 {ratio['p99']}x, throughput {ratio['throughput']}x" if ratio else "")
    )
    return got, "our p99 <= 1.5x the floor's", ratio is not None and _le(ratio["p99"], 1.5)


def _row10(r):
    fan = r["fanout"]
    ok = _le(fan["latency"]["p99_ms"], 25) and _clean(fan) and not r["failed"]
    quiet = r.get("fanout_without_uploads")
    before = ""
    if quiet:
        lat = quiet["latency"]
        before = f" (alone, just before: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms)"
    acks = f"; ack p50 {fan['ack_latency']['p50_ms']} ms, p99 {fan['ack_latency']['p99_ms']} ms"
    got = (
        f"fan-out {_lat(fan)}; {_counts(fan)}{acks}{before}"
        f"; {r['uploaders']} clients moved {r['uploads']} files of "
        f"{r['file_mib']:.0f} MiB in {r['wall_s']} s: up {r['upload_mib_s']} MiB/s, down "
        f"{r['download_mib_s']} MiB/s in all (one upload {r['per_upload_mib_s']} MiB/s, one download "
        f"{r['per_download_mib_s']} MiB/s)"
    )
    per_mib = r.get("cpu_ms_per_mib") or {}
    if per_mib:
        got += (
            f"; CPU per MiB moved: front {per_mib.get('front')} ms, backend {per_mib.get('backend')} ms"
            f"; the uploading clients took {r.get('uploaders_cpu_pct')}% of a core"
        )
    if r["failed"]:
        got += f"; {r['failed']} failed ({r['last_error']})"
    return got, "fan-out p99 <= 25 ms (scenario 1's) during the uploads; throughput reported", ok


def _row_soak(r):
    ok = r["memory_ok"] and _clean(r)
    got = (
        f"{r['clients']} clients, {r['rate_per_s']} msg/s, {r['duration_s']} s; growth after warm-up "
        f"front {r.get('front_growth')}, backend {r.get('backend_growth')}; {_lat(r)}; {_counts(r)}"
    )
    return got, "memory growth <= 10%, nothing lost", ok


def _row8(r):
    ours, upd = r["latency"]["p99_ms"], r["update_latency"]["p99_ms"]
    ok = (
        _le(upd, ours)
        and _clean(r)
        and r["update_lost"] == 0
        and r["update_duplicates"] == 0
        and not r["change_failures"]
    )
    got = (
        f"{r['operations']}; messages {_lat(r)}; updates {_lat(r, 'update_latency')}; {_counts(r)}; "
        f"updates lost {r['update_lost']}, dup {r['update_duplicates']}, failed {r['change_failures']}"
    )
    return got, "update delivery p99 <= message delivery p99, nothing lost", ok


def _row9(r):
    big = r[str(r["largest"])]
    small = r["1000"] if "1000" in r else None
    ok = _le(r["p50_ms"], 20) and _le(r["p99_ms"], 100) and _le(r.get("ratio_50k_to_1k_p50"), 2)
    acks = big.get("ack_during_rebuild")
    got = (
        f"two words over {r['largest']:,}: {_lat(big, 'words')}; typed (last word 3 letters) p50 "
        f"{big['typed']['p50_ms']} ms, p99 {big['typed']['p99_ms']} ms; in one room p50 "
        f"{big['words_in_room']['p50_ms']} ms"
        + (f"; 1,000: p50 {small['words']['p50_ms']} ms" if small else "")
        + f"; 50k/1k p50 {r.get('ratio_50k_to_1k_p50')}x; rebuild {big['rebuild_s']} s, backend RSS peak "
        f"{big['backend_rss_peak_mib']} MiB; index {big['index_bytes_per_message']} B/message"
        + (
            f"; ack p50 during rebuild {acks['p50_ms']} ms (after {big['ack_after_rebuild']['p50_ms']} ms)"
            if acks
            else ""
        )
        + (
            f"; found just after its ack: p50 {big['just_sent']['search_after_ack']['p50_ms']} ms, p99 "
            f"{big['just_sent']['search_after_ack']['p99_ms']} ms, missed {big['just_sent']['not_found']}"
            if "just_sent" in big
            else ""
        )
    )
    return got, "p50 <= 20 ms, p99 <= 100 ms; 50k <= 2x 1k", ok


def _row11(r):
    one, two, cross = r["workers_1"], r["workers_2"], r["cross"]
    extra = cross["cross_extra_p50_ms"]
    ok = (
        all(_clean(x) for x in (one, two, cross))
        and two["deliveries_per_s"] >= 0.95 * one["deliveries_per_s"]
        and _le(two["latency"]["p99_ms"], one["latency"]["p99_ms"])
        and _le(extra, 2)
    )
    same, over = cross["same_front"], cross["cross_front"]
    got = (
        f"1 worker: {one['deliveries_per_s']}/s, p99 {one['latency']['p99_ms']} ms, {_counts(one)}; "
        f"--workers 2: {two['deliveries_per_s']}/s, p99 {two['latency']['p99_ms']} ms, {_counts(two)}; "
        f"same front p50 {same['p50_ms']} ms, p99 {same['p99_ms']} ms; cross front p50 {over['p50_ms']} ms, "
        f"p99 {over['p99_ms']} ms (extra p50 {extra} ms), {_counts(cross)}"
    )
    ceiling = r.get("backend_ceiling")
    if ceiling:
        got += (
            f"; the backend's ceiling: {ceiling['posts_per_s']} posts/s from {ceiling['posters']} posters "
            f"(post p50 {ceiling['post']['p50_ms']} ms, p99 {ceiling['post']['p99_ms']} ms)"
        )
    return got, "2 workers not slower than 1 (deliveries/s, p99); cross-front p50 <= same-front + 2 ms", ok


def _row12(r):
    away, back, floor = r["away"], r["back"], r["floor"]
    ok = _le(away["max_ms"], 100) and _le(back["max_ms"], 100)
    got = (
        f"{r['switches']} of each: back to the long room p50 {back['p50_ms']} ms, max {back['max_ms']} ms; "
        f"away from it p50 {away['p50_ms']} ms, max {away['max_ms']} ms; between two rooms of 30 (the floor) "
        f"p50 {floor['p50_ms']} ms, max {floor['max_ms']} ms; back/floor p50 {r['back_to_floor_p50']}x; "
        f"{r['messages']:,} messages scrolled through in {r['scroll_steps_up']} steps, "
        f"at most {r['message_nodes_at_most']} message nodes"
    )
    return got, "every switch <= 100 ms from the click to the next frame", ok


ROWS = {
    "1": ("1. Room fan-out: 100 clients, 50 msg/s, in rounds beside the floor", _row1),
    "2": ("2. Crowd: 1,000 clients, 20 msg/s", _row2),
    "3": ("3. Capacity: 10,000 idle WebSockets", _row3),
    "4": ("4. Acknowledgement at 100 msg/s", _row4),
    "5": ("5. History: latest 50 of 1,000,000", _row5),
    "6": ("6. Polling: 100 clients, wait=25", _row6),
    "7": ("7. The floor of scenario 2", _row7),
    "8": ("8. Edits and reactions: 100 clients, 50 op/s, 10% edits, 20% reactions", _row8),
    "9": ("9. Search: two words over 1,000 to 1,000,000 messages", _row9),
    "10": ("10. Files: 20 uploads of 5 MiB at once beside scenario 1's fan-out", _row10),
    "11": (
        "11. Several front servers: crowd on 1 and 2 workers; cross-front delivery; the backend's ceiling",
        _row11,
    ),
    "12": ("12. Room switch in Chromium: to and from a room of 5,000 loaded messages", _row12),
    "soak": ("Soak: 200 clients, 10 min", _row_soak),
}


def table(results: dict) -> str:
    """The Markdown table of every scenario that ran, in scenario order."""
    lines = ["| scenario | measured | target | result |", "|---|---|---|---|"]
    for key, (title, row) in ROWS.items():
        if key not in results:
            continue
        r = results[key]
        if "error" in r and len(r) <= 2:
            got, target, ok = f"did not complete: {r['error']}", "", False
        else:
            got, target, ok = row(r)
        lines.append(f"| {title} | {got} | {target} | {'met' if ok else '**missed**'} |")
    return "\n".join(lines)


def usage_table(results: dict) -> str:
    """CPU (percent of one core) and memory of the generator and the servers, per scenario."""
    lines = [
        "| scenario | wall s | generator CPU | front CPU | backend CPU | floor CPU | other processes CPU "
        "| load avg | disk's slowest fsync ms | front RSS MiB | server CPU per message | per delivery |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, (title, _row) in ROWS.items():
        r = results.get(key) or {}
        runs = [(title, r.get("usage"), r.get("cpu_cost"))]
        if key == "1":
            runs = [
                (f"1. round {n} {side}", x[side].get("usage"), x[side].get("cpu_cost"))
                for n, x in enumerate(r.get("rounds") or (), 1)
                for side in ("ours", "floor")
            ]
        if key == "11":
            runs = [
                (f"11. {part}", r[part].get("usage"), r[part].get("cpu_cost"))
                for part in ("workers_1", "workers_2", "cross")
                if isinstance(r.get(part), dict)
            ]
        if key == "7":
            floor = (r.get("s2") or {}).get("floor", {})
            runs = [("7. floor s2", floor.get("usage"), floor.get("cpu_cost"))]
        for name, u, cost in runs:
            if u:
                fields = ("generator", "front", "backend", "floor", "others")
                cpu = " | ".join(
                    "" if u.get(f"{f}_cpu_pct") is None else f"{u[f'{f}_cpu_pct']}%" for f in fields
                )
                rss = u.get("front_rss_mib", "")
                per = _per(cost or {})
                lines.append(
                    f"| {name} | {u['wall_s']} | {cpu} | {u.get('load_avg_1m', '')} "
                    f"| {u.get('disk_slowest_fsync_ms', '')} | {rss} | {per} |"
                )
    return "\n".join(lines)


def _per(cost: dict) -> str:
    """'front 2100 µs + backend 900 µs | front 21 µs' from a cpu_cost dict."""
    names = [k.removesuffix("_us_per_message") for k in cost if k.endswith("_us_per_message")]
    if not names:
        return " | "
    msg = " + ".join(f"{n} {cost[f'{n}_us_per_message']} µs" for n in names)
    dlv = " + ".join(f"{n} {cost[f'{n}_us_per_delivery']} µs" for n in names)
    return f"{msg} | {dlv}"


def write(document: dict, stamp: str) -> str:
    """Write the full results as ``bench/results/<stamp>.json``; return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stamp}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    return str(path.relative_to(ROOT))
