"""summary.json and the class report (score histogram, pass rate per check: PNG and HTML).

Everything here depends only on the results, never on when or where they were graded, so
shards merged afterwards give the very files one run would have written.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..assignment import Assignment
from ..i18n import _
from ..results import CHECK_STATUSES, SubmissionResult, inert, write_json_atomic

HISTOGRAM_BINS = 10


def _percent(result: SubmissionResult) -> float:
    return 100.0 * result.score / result.max_score if result.max_score else 0.0


def summarize(results: Sequence[SubmissionResult], assignment: Assignment) -> dict[str, Any]:
    graded = [r for r in results if r.status == "graded"]
    percents = [_percent(r) for r in graded]
    histogram = [0] * HISTOGRAM_BINS
    for value in percents:
        histogram[min(HISTOGRAM_BINS - 1, int(value // (100 / HISTOGRAM_BINS)))] += 1
    checks: dict[str, Any] = {}
    for spec in assignment.checks.values():
        counts = dict.fromkeys(CHECK_STATUSES, 0)
        for result in graded:
            for check in result.checks:
                if check.id == spec.id:
                    counts[check.status] += 1
        ran = counts["passed"] + counts["failed"]
        checks[spec.id] = {
            "points": spec.points,
            "visibility": spec.visibility,
            **counts,
            "pass_rate": round(counts["passed"] / ran, 4) if ran else None,
        }
    return {
        "assignment": assignment.id,
        "title": assignment.title,
        "submissions": len(results),
        "graded": len(graded),
        "errors": sorted(inert(r.submission) for r in results if r.status == "error"),
        "score_percent": {
            "mean": round(statistics.fmean(percents), 2) if percents else None,
            "median": round(statistics.median(percents), 2) if percents else None,
            "min": round(min(percents), 2) if percents else None,
            "max": round(max(percents), 2) if percents else None,
        },
        "histogram": [
            {"from": i * 100 // HISTOGRAM_BINS, "to": (i + 1) * 100 // HISTOGRAM_BINS, "count": n}
            for i, n in enumerate(histogram)
        ],
        "checks": checks,
        "results": [
            {
                "submission": inert(r.submission),
                "status": r.status,
                "score": r.score,
                "max_score": r.max_score,
            }
            for r in sorted(results, key=lambda r: r.submission)
        ],
    }


def write(summary: dict[str, Any], out: Path, language: str) -> None:
    write_json_atomic(out / "summary.json", summary)
    _charts(summary, out)
    (out / "report.html").write_text(render_html(summary, language), encoding="utf-8")


def _charts(summary: dict[str, Any], out: Path) -> None:
    import matplotlib  # imported here: only a class report needs it, and it is heavy

    matplotlib.use("Agg")
    from matplotlib import pyplot

    bins = summary["histogram"]
    figure, axes = pyplot.subplots(figsize=(7, 3.5))
    axes.bar([b["from"] for b in bins], [b["count"] for b in bins], width=100 / HISTOGRAM_BINS, align="edge")
    axes.set_xlabel(_("note (%)"))
    axes.set_ylabel(_("remises"))
    axes.set_title(_("Répartition des notes"))
    axes.set_xlim(0, 100)
    figure.tight_layout()
    figure.savefig(out / "histogram.png", dpi=100, metadata={"Software": None})
    pyplot.close(figure)

    rated = [(k, v["pass_rate"]) for k, v in summary["checks"].items() if v["pass_rate"] is not None]
    figure, axes = pyplot.subplots(figsize=(7, 0.3 * len(rated) + 1.2))
    axes.barh([k for k, _r in rated][::-1], [100 * r for _k, r in rated][::-1])
    axes.set_xlim(0, 100)
    axes.set_xlabel(_("remises qui réussissent (%)"))
    axes.set_title(_("Taux de réussite par vérification"))
    figure.tight_layout()
    figure.savefig(out / "pass-rate.png", dpi=100, metadata={"Software": None})
    pyplot.close(figure)


def _rate(rate: float | None) -> str:
    return "" if rate is None else f"{100 * rate:.0f} %"


def render_html(summary: dict[str, Any], language: str) -> str:
    def esc(text: str) -> str:
        return html.escape(inert(text))

    score = summary["score_percent"]
    rows = "\n".join(
        f"<tr><td>{esc(r['submission'])}</td><td>{esc(r['status'])}</td>"
        f"<td>{r['score']:g}/{r['max_score']:g}</td></tr>"
        for r in summary["results"]
    )
    checks = "\n".join(
        f"<tr><td><code>{esc(k)}</code></td><td>{v['passed']}</td><td>{v['failed']}</td>"
        f"<td>{_rate(v['pass_rate'])}</td></tr>"
        for k, v in summary["checks"].items()
    )
    mean = "-" if score["mean"] is None else f"{score['mean']:.1f} %"
    median = "-" if score["median"] is None else f"{score['median']:.1f} %"
    return f"""<!doctype html>
<html lang="{esc(language)}"><head><meta charset="utf-8"><title>{esc(summary["title"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}td,th{{padding:2px 8px;text-align:left}}</style>
</head><body>
<h1>{esc(summary["title"])}</h1>
<p>{esc(_("Remises : {n}, corrigées : {g}, moyenne : {mean}, médiane : {median}").format(n=summary["submissions"], g=summary["graded"], mean=mean, median=median))}</p>
<img src="histogram.png" alt="{esc(_("Répartition des notes"))}">
<img src="pass-rate.png" alt="{esc(_("Taux de réussite par vérification"))}">
<h2>{esc(_("Vérifications"))}</h2>
<table><tr><th>{esc(_("vérification"))}</th><th>{esc(_("réussies"))}</th><th>{esc(_("échouées"))}</th><th>{esc(_("taux"))}</th></tr>
{checks}
</table>
<h2>{esc(_("Remises"))}</h2>
<table><tr><th>{esc(_("remise"))}</th><th>{esc(_("statut"))}</th><th>{esc(_("note"))}</th></tr>
{rows}
</table>
</body></html>
"""
