"""Control charts drawn with matplotlib: the metric per partition, the expected path and the band
of limits each point was judged against (with the model that drew them), alerts and warnings
marked, quarantined points hollow."""

from __future__ import annotations

from pathlib import Path


def control_chart(points: list[dict], *, title: str, out: str | Path) -> Path:
    """Write the chart of ``points`` (``ws.monitors.metrics`` rows of one series) to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [p["partition_key"] or "—" for p in points]
    x = list(range(len(points)))
    values = [p["value"] for p in points]
    fig, ax = plt.subplots(figsize=(max(8, min(24, len(points) / 12)), 4.2), dpi=110)
    try:
        ax.plot(x, [float("nan") if v is None else v for v in values], color="#1f77b4", lw=1.2, marker="o", ms=3,
                label="value", zorder=3)
        centre = [float("nan") if p.get("center") is None else p["center"] for p in points]
        lower = [float("nan") if p.get("lower") is None else p["lower"] for p in points]
        upper = [float("nan") if p.get("upper") is None else p["upper"] for p in points]
        models = sorted({p["model"] for p in points if p.get("model")})
        ax.plot(x, centre, color="#2ca02c", lw=1, label="expected" + (f" ({'; '.join(models)})" if models else ""))
        ax.plot(x, lower, color="#d62728", lw=0.8, ls="--", label="alert limits")
        ax.plot(x, upper, color="#d62728", lw=0.8, ls="--")
        ax.fill_between(x, lower, upper, color="#2ca02c", alpha=0.06)
        for kind, colour, marker in (("alert", "#d62728", "X"), ("warn", "#ff7f0e", "^")):
            hits = [(i, v) for i, (p, v) in enumerate(zip(points, values))
                    if v is not None and any(s["severity"] == kind for s in p.get("signals", []))
                    and (kind == "alert" or not any(s["severity"] == "alert" for s in p.get("signals", [])))]
            if hits:
                ax.scatter([i for i, _ in hits], [v for _, v in hits], s=70, color=colour, marker=marker, zorder=4,
                           label=f"{kind} ({len(hits)})")
        quarantined = [(i, v) for i, (p, v) in enumerate(zip(points, values)) if p.get("quarantined") and v is not None]
        if quarantined:
            ax.scatter([i for i, _ in quarantined], [v for _, v in quarantined], s=90, facecolors="none",
                       edgecolors="#9467bd", lw=1.5, zorder=5, label="quarantined")
        step = max(1, len(keys) // 12)
        ax.set_xticks(x[::step])
        ax.set_xticklabels(keys[::step], rotation=30, ha="right", fontsize=8)
        ax.set_title(title, loc="left", fontsize=11)
        ax.grid(alpha=0.25)
        ax.legend(fontsize=8, loc="upper left", ncol=3, frameon=False)
        fig.tight_layout()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out
