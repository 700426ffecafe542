"""The report as a text summary and as one self-contained HTML page with inline SVG charts
(no script, no external file: it opens anywhere and can be mailed). Caller wording is escaped."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence

import numpy as np

from gateway.analytics.figures import Report

GAPS_SHOWN = 15


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def text_summary(report: Report) -> str:
    r = report
    lines = [f"calls {_when(r.since)} .. {_when(r.until)}",
             f"calls: {r.calls} ({', '.join(f'{k} {v}' for k, v in r.channels.most_common())})",
             f"caller turns: {r.caller_turns}; unanswered: {r.unanswered}",
             f"resolution (did that answer your question?): yes {r.feedback_yes}, no {r.feedback_no}, "
             f"helpful {_pct(r.helpful_rate)}",
             f"hand-offs: {sum(r.handoffs.values())} in {r.calls_handed_off} calls"
             + "".join(f"\n  {reason:<22} {n}" for reason, n in r.handoffs.most_common()),
             "intents (caller turns):" + "".join(f"\n  {k:<22} {v}" for k, v in r.intents.most_common())]
    if r.actions:
        lines.append("actions:           calls   ok  not-found  failed  failure rate  p50 ms  p95 ms")
        for name, a in r.actions.items():
            p50, p95 = (float(np.percentile(a.latencies, q)) for q in (50, 95)) if a.latencies else (0.0, 0.0)
            lines.append(f"  {name:<16} {a.calls:>5} {a.ok:>4} {a.not_found:>10} {a.failed:>7} "
                         f"{_pct(a.failure_rate):>13} {p50:>7.0f} {p95:>7.0f}")
            bad = [f"{k} {v}" for k, v in a.outcomes.most_common() if k not in ("ok", "not-found")]
            if bad:
                lines.append(f"    failures: {', '.join(bad)}")
    if r.latency:
        lines.append("latency per stage (ms):   n     p50     p90     p95     max")
        for stage, lat in r.latency.items():
            lines.append(f"  {stage:<18} {lat.count:>6} {lat.p50:>7.0f} {lat.p90:>7.0f} {lat.p95:>7.0f} "
                         f"{lat.max:>7.0f}")
    for ex in r.experiments:
        lines.append(f"experiment {ex.name}: sessions a {ex.sessions['a']}, b {ex.sessions['b']}")
        for label, c in (("resolution", ex.resolution), ("hand-off rate", ex.handoffs)):
            lines.append(f"  {label:<14} a {_pct(c.a_rate)} ({c.a_hits}/{c.a_total})  "
                         f"b {_pct(c.b_rate)} ({c.b_hits}/{c.b_total})  z {c.z:+.2f}  p {c.p:.3f}: "
                         + ("more than noise" if c.significant else "within noise"))
    lines.append("knowledge gaps (unanswered or 'no' questions, clustered by meaning):")
    for i, gap in enumerate(r.gaps[:GAPS_SHOWN], 1):
        lines.append(f"  {i:>2}. {gap.count:>4} questions ({gap.unanswered} unanswered, "
                     f"{gap.unhelpful} 'no'): " + " | ".join(f'"{e}"' for e in gap.examples))
    if not r.gaps:
        lines.append("  none")
    return "\n".join(lines)


def _bars(items: Sequence[tuple[str, float]], unit: str = "", width: int = 520) -> str:
    """A horizontal bar chart as inline SVG."""
    if not items:
        return "<p>none</p>"
    top = max(v for _, v in items) or 1.0
    row, label_w = 22, 170
    height = row * len(items) + 6
    parts = [f'<svg width="{width}" height="{height}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value) in enumerate(items):
        y = i * row + 3
        w = (width - label_w - 70) * value / top
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{html.escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 6}" fill="#4a7bb7"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{value:g}{unit}</text>')
    return "".join(parts) + "</svg>"


def _histogram(values: Sequence[float], width: int = 520, height: int = 120, bins: int = 24) -> str:
    if not values:
        return ""
    counts, edges = np.histogram(np.asarray(values), bins=bins)
    top = max(int(counts.max()), 1)
    bw = width / bins
    parts = [f'<svg width="{width}" height="{height + 18}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, c in enumerate(counts):
        h = (height - 4) * int(c) / top
        parts.append(f'<rect x="{i * bw:.1f}" y="{height - h:.1f}" width="{bw - 1:.1f}" height="{h:.1f}" '
                     f'fill="#7aa36f"><title>{edges[i]:.0f}-{edges[i + 1]:.0f} ms: {int(c)}</title></rect>')
    parts.append(f'<text x="0" y="{height + 14}">{edges[0]:.0f} ms</text>'
                 f'<text x="{width}" y="{height + 14}" text-anchor="end">{edges[-1]:.0f} ms</text>')
    return "".join(parts) + "</svg>"


def html_page(report: Report) -> str:
    r = report
    esc = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>cc-gateway report</title>",
           "<style>body{font:14px sans-serif;max-width:900px;margin:2em auto}svg text{font:12px sans-serif}"
           "table{border-collapse:collapse}"
           "td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}"
           "</style></head><body>",
           f"<h1>Calls {esc(_when(r.since))} – {esc(_when(r.until))}</h1>",
           f"<p>{r.calls} calls, {r.caller_turns} caller turns, {r.unanswered} unanswered. "
           f"Did that answer your question? yes {r.feedback_yes}, no {r.feedback_no} "
           f"(helpful {_pct(r.helpful_rate)}). Hand-offs: {sum(r.handoffs.values())} in "
           f"{r.calls_handed_off} calls.</p>",
           "<h2>Hand-offs by reason</h2>", _bars([(k, v) for k, v in r.handoffs.most_common()]),
           "<h2>Intents</h2>", _bars([(k, v) for k, v in r.intents.most_common()]),
           "<h2>Actions</h2>"]
    if r.actions:
        out.append("<table><tr><th>action</th><th>calls</th><th>ok</th><th>not found</th><th>failed</th>"
                   "<th>failure rate</th><th>outcomes</th></tr>")
        for name, a in r.actions.items():
            outcomes = ", ".join(f"{k} {v}" for k, v in a.outcomes.most_common())
            out.append(f"<tr><td>{esc(name)}</td><td>{a.calls}</td><td>{a.ok}</td><td>{a.not_found}</td>"
                       f"<td>{a.failed}</td><td>{_pct(a.failure_rate)}</td><td>{esc(outcomes)}</td></tr>")
        out.append("</table>")
        out.append(_bars([(name, round(100 * a.failure_rate, 1)) for name, a in r.actions.items()], "%"))
    else:
        out.append("<p>none</p>")
    out.append("<h2>Latency per stage</h2>")
    for stage, lat in r.latency.items():
        out.append(f"<h3>{esc(stage)}: p50 {lat.p50:.0f} ms, p95 {lat.p95:.0f} ms ({lat.count})</h3>"
                   + _histogram(lat.values))
    for ex in r.experiments:
        out.append(f"<h2>Experiment {esc(ex.name)}</h2><table><tr><th></th><th>a</th><th>b</th><th>p</th>"
                   "<th>verdict</th></tr>")
        for label, c in (("resolution", ex.resolution), ("hand-off rate", ex.handoffs)):
            verdict = "more than noise" if c.significant else "within noise"
            out.append(f"<tr><td>{label}</td><td>{_pct(c.a_rate)} ({c.a_hits}/{c.a_total})</td>"
                       f"<td>{_pct(c.b_rate)} ({c.b_hits}/{c.b_total})</td><td>{c.p:.3f}</td>"
                       f"<td>{verdict}</td></tr>")
        out.append("</table>")
    out.append("<h2>Knowledge gaps</h2><p>Questions the assistant could not answer or answered to a "
               "“no”, clustered by meaning: what to write next.</p><ol>")
    for gap in r.gaps[:GAPS_SHOWN]:
        examples = "<br>".join(f"“{esc(e)}”" for e in gap.examples)
        out.append(f"<li><b>{gap.count}</b> ({gap.unanswered} unanswered, {gap.unhelpful} “no”)"
                   f"<br>{examples}</li>")
    out.append("</ol></body></html>")
    return "\n".join(out)
