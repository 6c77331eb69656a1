"""The node benchmark's output: the table of figures against targets, and the details."""

from __future__ import annotations

TARGETS = {
    "local_ratio": 0.70,
    "flood_rps": 500.0,
    "flood_p95_ms": 50.0,
    "download_ratio": 0.25,
    "kill_dead_s": 1.0,
    "restart_s": 2.0,
    "pause_dead_s": 2.0,
    "rss_mb": 60.0,
}


# ================================================================================================
# Phases
# ================================================================================================


def fmt(value: object, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


def row(
    metric: str,
    value: object,
    baseline: object = None,
    ratio: float | None = None,
    target: str = "-",
    met: object = None,
    unit: str = "",
    digits: int = 1,
) -> dict:
    return {
        "metric": metric,
        "value": fmt(value, unit, digits),
        "baseline": baseline if isinstance(baseline, str) else fmt(baseline, unit, digits),
        "ratio": fmt(ratio, "", 2),
        "target": target,
        "met": "-" if met is None else ("yes" if met else "NO"),
    }


def build_rows(r: dict) -> list[dict]:
    rows = []
    rss0 = r["rss_idle_mb"]
    rss_max = max(rss0.values())
    health, local, flood = r["health"], r["local"], r["flood"]
    hr = health["rps"]
    rows.append(row(f"/health req/s n1 (C={health['clients']})", hr, None, None, "info"))
    rows.append(
        row(
            f"local search ttl=0 req/s n1 (C={local['clients']})",
            local["rps"],
            f"{hr:,.1f} /health",
            local["rps"] / hr if hr else None,
            f">= {TARGETS['local_ratio']:.2f}x /health",
            hr and local["rps"] / hr >= TARGETS["local_ratio"],
        )
    )
    rows.append(
        row(
            f"flooded search ttl=3 req/s (C={flood['clients']})",
            flood["rps"],
            f"{hr:,.1f} /health",
            flood["rps"] / hr if hr else None,
            f">= {TARGETS['flood_rps']:.0f}/s",
            flood["rps"] >= TARGETS["flood_rps"],
        )
    )
    rows.append(
        row(
            "flooded search p50 latency",
            flood["p50_ms"],
            f"{health['p50_ms']:.1f} ms /health",
            flood["p50_ms"] / health["p50_ms"] if health["p50_ms"] else None,
            "info",
            None,
            " ms",
        )
    )
    rows.append(
        row(
            "flooded search p95 latency",
            flood["p95_ms"],
            f"{health['p95_ms']:.1f} ms /health",
            flood["p95_ms"] / health["p95_ms"] if health["p95_ms"] else None,
            f"<= {TARGETS['flood_p95_ms']:.0f} ms",
            flood["p95_ms"] <= TARGETS["flood_p95_ms"],
            " ms",
        )
    )
    good = flood["checked"] - flood["bad"]
    rows.append(
        row(
            "flooded answers with messages == 4",
            f"{good}/{flood['checked']}",
            None,
            good / flood["checked"] if flood["checked"] else None,
            "all",
            flood["checked"] > 0 and flood["bad"] == 0,
        )
    )
    rows.append(
        row(
            "flooded answers partial / errors",
            f"{flood['partial']} / {flood['errors']}",
            None,
            None,
            "0 / 0",
            flood["partial"] == 0 and flood["errors"] == 0,
        )
    )
    d = r.get("download")
    if d:
        ratio = d["ratio"]
        rows.append(
            row(
                f"gRPC download MB/s ({d['bytes'] // 2**20} MiB, 1 stream)",
                d["grpc_mbps"],
                f"{d['tcp_mbps']:,.1f} raw TCP",
                ratio,
                f">= {TARGETS['download_ratio']:.2f}x raw TCP",
                ratio is not None and ratio >= TARGETS["download_ratio"] and d["verified"],
            )
        )
    c = r.get("concurrent")
    if c:
        rows.append(
            row(
                f"gRPC downloads MB/s ({c['streams']} streams, {c['file_bytes'] / 2**20:.1f} MiB)",
                c["mbps"],
                None,
                None,
                "info, all verified",
                c["bad"] == 0,
            )
        )
    f = r.get("failures")
    if f:
        rows.append(
            row(
                "SIGKILL n3 -> dead on n1+n2",
                f["kill_dead_s"],
                None,
                None,
                f"<= {TARGETS['kill_dead_s']:.1f} s",
                f["kill_dead_s"] is not None and f["kill_dead_s"] <= TARGETS["kill_dead_s"],
                " s",
                3,
            )
        )
        rows.append(
            row(
                "restart n3 -> all peers_alive == 2",
                f["restart_s"],
                f"{f['restart_listening_s']:.3f} s start",
                f["restart_s"] / f["restart_listening_s"] if f["restart_s"] else None,
                f"<= {TARGETS['restart_s']:.1f} s",
                f["restart_s"] is not None and f["restart_s"] <= TARGETS["restart_s"],
                " s",
                3,
            )
        )
        rows.append(
            row(
                "SIGSTOP n2 -> dead on n1+n3",
                f["pause_dead_s"],
                None,
                None,
                f"<= {TARGETS['pause_dead_s']:.1f} s",
                f["pause_dead_s"] is not None and f["pause_dead_s"] <= TARGETS["pause_dead_s"],
                " s",
                3,
            )
        )
        rows.append(
            row(
                "SIGCONT n2 -> all peers_alive == 2",
                f["resume_alive_s"],
                None,
                None,
                "info",
                None,
                " s",
                3,
            )
        )
    rows.append(
        row(
            "idle node RSS, max of 3 (fresh)",
            rss_max,
            None,
            None,
            f"<= {TARGETS['rss_mb']:.0f} MB",
            rss_max <= TARGETS["rss_mb"],
            " MB",
        )
    )
    if r.get("rss_after_mb"):
        after = max(v for v in r["rss_after_mb"].values() if v == v)
        rows.append(
            row(
                "idle node RSS, max of 3 (after load)",
                after,
                f"{rss_max:.1f} MB fresh",
                after / rss_max,
                f"<= {TARGETS['rss_mb']:.0f} MB",
                after <= TARGETS["rss_mb"],
                " MB",
            )
        )
    return rows


def print_table(rows: list[dict]) -> None:
    cols = ("metric", "value", "baseline", "ratio", "target", "met")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    line = "  ".join(c.ljust(widths[c]) for c in cols)
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))


def print_details(r: dict) -> None:
    print()
    print("details")
    for key in ("health", "local", "flood"):
        x = r[key]
        print(
            f"  {key:6s} {x['path']}: {x['requests']} req in {x['seconds']:.1f}s, "
            f"p50 {x['p50_ms']:.2f} ms, p95 {x['p95_ms']:.2f} ms, p99 {x['p99_ms']:.2f} ms, "
            f"errors {x['errors']}, checked {x['checked']} (bad {x['bad']}, "
            f"partial {x['partial']}); cpu% {x['cpu_pct']}"
        )
        for sample in x["error_samples"]:
            print(f"         error: {sample}")
    d = r.get("download")
    if d:
        print(
            f"  download {d['file']}: sha256 verified {d['verified']}; alternating runs: gRPC MB/s "
            f"{d['grpc_mbps_runs']} (ttfb ms {d['grpc_ttfb_ms']}), raw TCP MB/s "
            f"{d['tcp_mbps_runs']}, ratio {d['ratio_runs']} (medians used)"
        )
    f = r.get("failures")
    if f:
        print(
            f"  failures: kill->dead by {fmt_map(f['kill_dead_by'])}; restart->alive by "
            f"{fmt_map(f['restart_alive_by'])} (c.start returned after "
            f"{f['restart_listening_s']:.3f}s); pause->dead by {fmt_map(f['pause_dead_by'])}"
        )
    print(f"  rss MB fresh idle {r['rss_idle_mb']}; after load + idle {r.get('rss_after_mb')}")
    for phase, q in r.get("quiet", {}).items():
        state = "quiet" if q["quiet"] else "NOT quiet"
        print(
            f"  before {phase}: waited {q['waited_s']}s, others at {q['other_cpu_pct']}% CPU "
            f"({state})"
        )


def fmt_map(m: dict) -> str:
    return ", ".join(f"{k} {'-' if v is None else f'{v:.3f}s'}" for k, v in m.items())


# ================================================================================================
# Main
# ================================================================================================
