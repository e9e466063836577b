"""The HTML report of a comparison (Fig. 4 curves, Fig. 2 galleries) and its tables."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from ..utils import write_atomic
from ._figures import curve_figure, summarize


def summary_table(rows: list[dict]) -> list[list[str]]:
    """Rows of (strategy, round, N_rare, rare F1, hits per rare class) as mean ± CI strings."""
    n = summarize(rows, "n_rare")
    f = {s: {p[0]: p for p in pts} for s, pts in summarize(rows, "f1_rare").items()}
    table = [["strategy", "round", "labels used", "N_rare", "rare F1"]]
    labels = {s: {p[0]: p for p in pts} for s, pts in summarize(rows, "labels_used").items()}
    for s, pts in sorted(n.items()):
        for r, m, lo, hi, _n in pts:
            fm, flo, fhi = f[s][r][1:4]
            table.append(
                [
                    s,
                    str(r),
                    f"{labels[s][r][1]:.0f}",
                    f"{m:.1f} [{lo:.1f}, {hi:.1f}]",
                    f"{fm:.3f} [{flo:.3f}, {fhi:.3f}]",
                ]
            )
    return table


def ranking_hits(candidates, labels: dict, rare_classes) -> np.ndarray:
    """Whether each round-0 candidate was a hit, in ranking order.

    ``candidates`` are stored rows ``(item_id, target, score, ...)``; per-class rankings are
    interleaved by rank within their class so every strategy yields one joint ranking.
    A hit is a label equal to the target class, or any rare class for class-agnostic picks.
    """
    rare = set(int(c) for c in rare_classes)
    seen: dict = {}
    keyed = []
    for pos, (item, target, *_) in enumerate(candidates):
        k = seen.get(target, 0)
        seen[target] = k + 1
        y = labels.get(int(item))
        keyed.append((k, pos, y is not None and (y == target if target != -1 else y in rare)))
    return np.array([hit for _, _, hit in sorted(keyed)], dtype=bool)


def precision_recall(hits, n_relevant: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of a ranking truncated at each depth k = 1..len(hits)."""
    hits = np.asarray(hits, dtype=float)
    found = np.cumsum(hits)
    return found / np.arange(1, len(hits) + 1), found / max(1, n_relevant)


def average_precision(hits, n_relevant: int) -> float:
    """Mean precision at each hit, over all relevant items (misses beyond the budget count 0)."""
    hits = np.asarray(hits, dtype=bool)
    prec, _ = precision_recall(hits, n_relevant)
    return float(prec[hits].sum() / max(1, n_relevant))


def pr_figure(curves: dict[str, list[np.ndarray]], n_relevant: int):
    """Precision–recall of each strategy's round-0 ranking, mean over seeds."""
    import plotly.graph_objects as go

    from ._figures import PALETTE

    fig = go.Figure()
    for name, runs in sorted(curves.items()):
        depth = min(len(h) for h in runs)
        prec = np.mean([precision_recall(h[:depth], n_relevant)[0] for h in runs], axis=0)
        rec = np.mean([precision_recall(h[:depth], n_relevant)[1] for h in runs], axis=0)
        fig.add_trace(go.Scatter(x=rec, y=prec, mode="lines", name=name, line=dict(color=PALETTE.get(name))))
    fig.update_layout(
        title="Precision–recall of the round-0 candidate ranking (mean over seeds)",
        xaxis_title="recall (rare pool items found)",
        yaxis_title="precision",
        template="plotly_white",
        height=420,
        yaxis=dict(range=[0, 1.02]),
    )
    return fig


def comparison_table(rows: list[dict], *, findable: float | None = None) -> list[list[str]]:
    """One row per strategy, means over seeds: new rare items per class in round 1, N_rare
    after 2 and after the last round, the share of findable rare pool items found after 2
    rounds (when ``findable``, per class, is given), F1 after the last round, and the areas
    under N_rare and F1 against labels used (divided by the labels spent)."""
    out = [
        [
            "strategy",
            "round 1 (per class)",
            "N_rare t=2",
            "N_rare last",
            *(["found after 2"] if findable else []),
            "F1 last",
            "AUC N_rare",
            "AUC F1",
            "seeds",
        ]
    ]
    table = []
    for s in sorted({r["strategy"] for r in rows}):
        per = {}
        for seed in sorted({r["seed"] for r in rows if r["strategy"] == s}):
            rr = sorted((r for r in rows if r["strategy"] == s and r["seed"] == seed), key=lambda r: r["round"])
            n_cls = max(1, len(json.loads(rr[0].get("hits_per_class") or "{}")))
            x = np.array([r["labels_used"] for r in rr], dtype=float)
            by_t = {r["round"]: r for r in rr}
            vals = {
                "r1": (rr[0]["hits"] or 0) / n_cls,
                "t2": by_t[2]["n_rare"] if 2 in by_t else np.nan,
                "last": rr[-1]["n_rare"],
                "f1": rr[-1]["f1_rare"] if rr[-1]["f1_rare"] is not None else np.nan,
                "auc_n": np.trapezoid([r["n_rare"] for r in rr], x) / x[-1] if x[-1] else np.nan,
                "auc_f": (
                    np.trapezoid([r["f1_rare"] for r in rr], x) / x[-1]
                    if x[-1] and all(r["f1_rare"] is not None for r in rr)
                    else np.nan
                ),
            }
            if findable and 2 in by_t:
                vals["found2"] = (by_t[2]["n_rare"] - rr[0]["n_rare"]) / findable
            for k, v in vals.items():
                per.setdefault(k, []).append(v)
        m = {k: float(np.nanmean(v)) if not np.all(np.isnan(v)) else np.nan for k, v in per.items()}
        table.append(
            (
                m["auc_n"],
                [
                    s,
                    f"{m['r1']:.1f}",
                    f"{m['t2']:.1f}",
                    f"{m['last']:.1f}",
                    *([f"{100 * m.get('found2', np.nan):.0f} %"] if findable else []),
                    f"{m['f1']:.3f}",
                    f"{m['auc_n']:.2f}",
                    f"{m['auc_f']:.3f}",
                    str(len(per["r1"])),
                ],
            )
        )
    out += [row for _, row in sorted(table, key=lambda t: -t[0])]  # best area under N_rare first
    return out


def auc_table(rows: list[dict], ap: dict[str, list[float]]) -> list[list[str]]:
    """Area under N_rare and F1 against labels used (normalised by the labels spent), and AP."""
    out = [["strategy", "AUC N_rare", "AUC rare F1", "AP round 0", "seeds"]]
    for s in sorted({r["strategy"] for r in rows}):
        per_seed_n, per_seed_f = [], []
        for seed in sorted({r["seed"] for r in rows if r["strategy"] == s}):
            rr = sorted((r for r in rows if r["strategy"] == s and r["seed"] == seed), key=lambda r: r["round"])
            x = np.array([r["labels_used"] for r in rr], dtype=float)
            if len(x) < 2 or x[-1] == 0:
                continue
            per_seed_n.append(np.trapezoid([r["n_rare"] for r in rr], x) / x[-1])
            per_seed_f.append(np.trapezoid([r["f1_rare"] for r in rr], x) / x[-1])
        a = ap.get(s, [])
        out.append(
            [
                s,
                f"{np.mean(per_seed_n):.2f}" if per_seed_n else "",
                f"{np.mean(per_seed_f):.3f}" if per_seed_f else "",
                f"{np.mean(a):.3f}" if a else "",
                str(len(per_seed_n)),
            ]
        )
    return out


def format_table(table: list[list[str]]) -> str:
    width = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, width)).rstrip() for r in table]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
.gallery{display:flex;flex-wrap:wrap;gap:6px}
.gallery figure{margin:0;text-align:center;font:11px monospace;border:3px solid #ccc;padding:2px}
.gallery figure.hit{border-color:#2ca02c}.gallery figure.miss{border-color:#d62728}
.gallery figure.ref{border-color:#000}
.gallery img{width:64px;height:64px;image-rendering:pixelated;display:block}
table{border-collapse:collapse;font:13px monospace}td,th{padding:2px 10px;border-bottom:1px solid #eee}
"""


def html_table(table: list[list[str]]) -> str:
    """A list-of-rows table (first row: header) as an HTML table."""
    return (
        "<table>"
        + "".join(
            "<tr>"
            + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c)}</{'th' if i == 0 else 'td'}>" for c in r)
            + "</tr>"
            for i, r in enumerate(table)
        )
        + "</table>"
    )


def write_report(
    path,
    rows: list[dict],
    *,
    title: str,
    max_n_rare: float | None = None,
    galleries: list[str] = (),
    notes: str = "",
    pr_curves: dict | None = None,
    n_relevant: int = 0,
) -> Path:
    """Write the self-contained HTML report (plotly.js inlined: it opens offline)."""
    figs = [
        curve_figure(rows, "n_rare", title="N_rare per iteration (Fig. 4a)", max_value=max_n_rare),
        curve_figure(rows, "f1_rare", title="Rare-class F1 per iteration (Fig. 4c)"),
    ]
    if pr_curves:
        figs.append(pr_figure(pr_curves, n_relevant))
    parts = [f.to_html(full_html=False, include_plotlyjs=(k == 0)) for k, f in enumerate(figs)]
    ap = {s: [average_precision(h, n_relevant) for h in runs] for s, runs in (pr_curves or {}).items()}
    doc = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{notes}</p>"
        f"{''.join(parts)}<h2>Summary: area under each curve</h2>"
        "<p>AUC: the curve against labels used, divided by the labels spent (the mean height). "
        "AP: average precision of the round-0 ranking over all rare pool items.</p>"
        f"{html_table(auc_table(rows, ap))}<h2>Mean and 95% CI over seeds</h2>{html_table(summary_table(rows))}"
        f"<h2>Top candidates (Fig. 2)</h2><p>Green: the rare class; red: another class. "
        f"The probability is the model's softmax output for the rare class.</p>{''.join(galleries)}"
        "</body></html>"
    )
    path = Path(path)
    write_atomic(path, doc)
    return path
