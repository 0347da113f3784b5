"""Rendering: the report and the history as self-contained HTML, PDF and PNG.

HTML pages carry their CSS inline and draw charts as hand-built SVG: no external URL, no
script, no font download; a page renders the same offline. :func:`render_html` and
:func:`render_history_html` are pure (same input, same bytes), so a verifier can re-render a
report and compare. PDF and PNG come from headless Chromium (the Debian ``chromium``
package) driven by Playwright: ``page.pdf()`` and ``page.screenshot()``.
"""

from __future__ import annotations

import html
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

from por.report import Report, usd_cents_floor

GREEN = "#1a7f37"
RED = "#cf222e"
INK = "#1f2328"
MUTED = "#59636e"
LINE = "#d1d9e0"
BLUE = "#0969da"

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:%(ink)s;font:14px/1.5 system-ui,-apple-system,"Segoe UI",
"DejaVu Sans",Helvetica,Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 32px 40px;background:#fff}
h1{font-size:26px;margin:0 0 2px}h2{font-size:18px;margin:30px 0 10px;padding-bottom:4px;
border-bottom:1px solid %(line)s}h3{font-size:15px;margin:18px 0 6px}
.sub{color:%(muted)s;margin:0 0 16px}
.banner{border-radius:8px;padding:12px 16px;margin:14px 0 18px;font-weight:600;font-size:15px}
.banner.ok{background:#dafbe1;border:1px solid #4ac26b;color:#116329}
.banner.bad{background:#ffebe9;border:1px solid #ff8182;color:#a40e26}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:8px 0 6px}
.card{border:1px solid %(line)s;border-radius:8px;padding:10px 14px}
.card .k{color:%(muted)s;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:20px;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap}
table{border-collapse:collapse;width:100%%;font-variant-numeric:tabular-nums;font-size:12.5px}
th,td{padding:5px 8px;border-bottom:1px solid %(line)s;text-align:right;vertical-align:top}
th{background:#f6f8fa;font-weight:600;color:%(muted)s;font-size:11.5px;text-transform:uppercase;
letter-spacing:.03em}
td.l,th.l{text-align:left}td.nw{white-space:nowrap}.scroll{overflow-x:auto}
td .small{white-space:nowrap}td.l .small{white-space:normal}
tr.below td{background:#fff5f5}
.pct{font-weight:650}.pct.ok{color:%(green)s}.pct.bad{color:%(red)s}
.tag{display:inline-block;border-radius:10px;padding:0 7px;font-size:11px;font-weight:600}
.tag.bad{background:%(red)s;color:#fff}.tag.ok{background:#dafbe1;color:#116329}
.tag.na{background:#eaeef2;color:%(muted)s}
.small{font-size:12px;color:%(muted)s}
code,pre{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
pre{background:#f6f8fa;border:1px solid %(line)s;border-radius:6px;padding:10px 12px;
white-space:pre-wrap;word-break:break-all}
.mono{font-family:"DejaVu Sans Mono",Menlo,monospace;font-size:11.5px;word-break:break-all}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.chart{border:1px solid %(line)s;border-radius:8px;padding:10px 12px}
.chart h3{margin:0 0 6px}
.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:12px}
footer{margin-top:28px;color:%(muted)s;font-size:12px;border-top:1px solid %(line)s;padding-top:10px}
@media print{body{background:#fff;font-size:11px}main{padding:0;max-width:none}
h1{font-size:21px}h2{font-size:15px;break-after:avoid}.chart,tr,.card{break-inside:avoid}
.charts{grid-template-columns:1fr}.cards{grid-template-columns:repeat(2,1fr)}
.card .v{font-size:17px}.scroll{overflow:visible}table{font-size:8.6px}
th{font-size:7.8px}th,td{padding:3px 4px}td .small,.small{font-size:8.4px}
.tag{font-size:8px;padding:0 4px}pre{font-size:9.5px}.mono{font-size:9.5px}
.charts .chart svg{max-width:500px;display:block;margin:0 auto}}
@page{size:A4;margin:14mm 12mm}
""" % {"ink": INK, "line": LINE, "muted": MUTED, "green": GREEN, "red": RED}

SERIES = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#bc4c00", "#0a7b83",
          "#6e7781", "#d4a72c", "#cf222e")


def e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _pct_text(p: str | None) -> str:
    return "n/a" if p is None else f"{p} %"


def _ratio_float(p: str | None) -> float | None:
    # for drawing only (pixels); every number printed comes from the exact strings
    return None if p is None else float(Fraction(p))


def _units(amount: str, decimals: int) -> str:
    """Whole units with thousands separators, exact (trailing zeros dropped)."""
    from por.amounts import format_scaled

    s = format_scaled(int(amount), decimals)
    neg = s.startswith("-")
    whole, dot, frac = s.lstrip("-").partition(".")
    return ("-" if neg else "") + f"{int(whole):,}" + (dot + frac if frac else "")


def _usd_short(usd_text: str) -> str:
    v = Fraction(usd_text)
    for div, suf in ((10**9, " B"), (10**6, " M"), (10**3, " k")):
        if abs(v) >= div:
            return f"${float(v / div):,.2f}{suf}"
    return f"${float(v):,.2f}"


# --------------------------------------------------------------------------------------
# SVG charts (hand-built, deterministic)
# --------------------------------------------------------------------------------------


def ratio_bars_svg(rows: Sequence[tuple[str, str | None, bool, str]], width: int = 520) -> str:
    """Horizontal bars of reserve ratios with the 100 % line. rows: (asset, ratio_percent,
    below_100, note); values past the axis end are drawn to the end with an arrow."""
    vals = [_ratio_float(p) for _, p, _, _ in rows if p is not None]
    top = max(120.0, min(200.0, (max(vals) if vals else 100.0) + 5))
    top = float(int((top + 9.999) // 10 * 10))
    left, right, bar, gap = 58, 70, 13, 5
    height = 26 + len(rows) * (bar + gap) + 18
    plot = width - left - right
    x = lambda v: left + plot * min(v, top) / top  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="reserve ratio per asset" '
           f'font-family="DejaVu Sans,Helvetica,Arial,sans-serif" font-size="11">']
    for t in range(0, int(top) + 1, 25 if top > 150 else 20):
        xx = x(t)
        out.append(f'<line x1="{xx:.1f}" y1="18" x2="{xx:.1f}" y2="{height - 16}" stroke="{LINE}"/>'
                   f'<text x="{xx:.1f}" y="{height - 4}" text-anchor="middle" fill="{MUTED}">{t}%</text>')
    y = 24
    for asset, p, below, note in rows:
        v = _ratio_float(p)
        color = RED if below else GREEN
        out.append(f'<text x="{left - 6}" y="{y + bar - 3}" text-anchor="end" fill="{INK}" '
                   f'font-weight="600">{e(asset)}</text>')
        if v is None:
            out.append(f'<text x="{left + 4}" y="{y + bar - 3}" fill="{MUTED}">{e(note)}</text>')
        else:
            w = max(x(v) - left, 0.0)
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" rx="2" fill="{color}" '
                       f'fill-opacity="{0.9 if below else 0.75}"/>')
            if v > top:
                out.append(f'<path d="M{x(top) - 1:.1f} {y - 1} l7 {bar / 2 + 1:.1f} l-7 {bar / 2 + 1:.1f}z" '
                           f'fill="{color}"/>')
            label = f"{p} %" + (f"  {note}" if note else "")
            out.append(f'<text x="{min(x(v), x(top)) + 9:.1f}" y="{y + bar - 3}" fill="{color}" '
                       f'font-weight="600">{e(label)}</text>')
        y += bar + gap
    x100 = x(100)
    out.append(f'<line x1="{x100:.1f}" y1="14" x2="{x100:.1f}" y2="{height - 16}" stroke="{INK}" '
               f'stroke-width="1.5" stroke-dasharray="4 3"/>'
               f'<text x="{x100:.1f}" y="11" text-anchor="middle" fill="{INK}" font-weight="600">100%</text>')
    out.append("</svg>")
    return "".join(out)


def usd_pairs_svg(rows: Sequence[tuple[str, str, str, bool]], width: int = 520) -> str:
    """Paired bars: reserves (blue) and net liabilities (grey) in USD, for the largest assets."""
    vals = [float(Fraction(v)) for _, r, l, _ in rows for v in (r, l)]
    top = max(vals + [1.0])
    left, right, bar = 58, 86, 9
    step = 2 * bar + 8
    height = 30 + len(rows) * step + 8
    plot = width - left - right
    x = lambda v: left + plot * max(v, 0.0) / top  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="reserves and net liabilities in USD" '
           f'font-family="DejaVu Sans,Helvetica,Arial,sans-serif" font-size="11">',
           f'<rect x="{left}" y="4" width="10" height="10" fill="{BLUE}"/>'
           f'<text x="{left + 14}" y="13" fill="{INK}">reserves</text>'
           f'<rect x="{left + 80}" y="4" width="10" height="10" fill="#8c959f"/>'
           f'<text x="{left + 94}" y="13" fill="{INK}">net customer liabilities (USD)</text>']
    y = 26
    for asset, res, net, below in rows:
        rv, nv = float(Fraction(res)), float(Fraction(net))
        out.append(f'<text x="{left - 6}" y="{y + bar + 4}" text-anchor="end" fill="{INK}" '
                   f'font-weight="600">{e(asset)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{x(rv) - left:.1f}" height="{bar}" rx="1.5" '
                   f'fill="{RED if below else BLUE}"/>'
                   f'<text x="{x(rv) + 4:.1f}" y="{y + bar - 1}" fill="{RED if rv == 0 else MUTED}">'
                   f'{"none proven" if rv == 0 else e(_usd_short(res))}</text>')
        out.append(f'<rect x="{left}" y="{y + bar + 1}" width="{x(nv) - left:.1f}" height="{bar}" '
                   f'rx="1.5" fill="#8c959f"/>'
                   f'<text x="{x(nv) + 4:.1f}" y="{y + 2 * bar}" fill="{MUTED}">{e(_usd_short(net))}</text>')
        y += step
    out.append("</svg>")
    return "".join(out)


def line_chart_svg(labels: Sequence[str], series: Sequence[tuple[str, Sequence[str | None]]],
                   width: int = 1040, height: int = 320, title: str = "",
                   colors: Sequence[str] = SERIES, compact: bool = False) -> str:
    """Reserve ratio over time: one line per series, the 100 % line dashed, every point
    below 100 % a red dot. Values are exact percent strings (None: no ratio that month)."""
    pts = [_ratio_float(v) for _, vs in series for v in vs if v is not None]
    lo = min(pts + [100.0])
    hi = max(pts + [100.0])
    span = max(hi - lo, 4.0)
    lo, hi = lo - span * 0.08, hi + span * 0.08
    left, right = (40, 10) if compact else (52, 120)
    top_pad, bottom = (22, 20) if compact else (28, 38)
    pw, ph = width - left - right, height - top_pad - bottom
    n = max(len(labels), 2)
    xf = lambda i: left + pw * i / (n - 1)  # noqa: E731
    yf = lambda v: top_pad + ph * (hi - v) / (hi - lo)  # noqa: E731
    fs = 10 if compact else 11
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="{e(title or "reserve ratio over time")}" '
           f'font-family="DejaVu Sans,Helvetica,Arial,sans-serif" font-size="{fs}">']
    if title:
        out.append(f'<text x="{left}" y="13" fill="{INK}" font-weight="650" font-size="{fs + 2}">{e(title)}</text>')
    # y grid: about 5 ticks at round steps
    raw = (hi - lo) / 5
    stepv = next(s for s in (0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 500) if s >= raw)
    t = (int(lo / stepv) + 1) * stepv
    while t < hi:
        out.append(f'<line x1="{left}" y1="{yf(t):.1f}" x2="{left + pw}" y2="{yf(t):.1f}" stroke="{LINE}"/>'
                   f'<text x="{left - 5}" y="{yf(t) + 3.5:.1f}" text-anchor="end" fill="{MUTED}">{t:g}%</text>')
        t += stepv
    every = max(1, -(-len(labels) // (4 if compact else 12)))
    for i, lab in enumerate(labels):
        if i % every == 0 or (not compact and i == len(labels) - 1 and i % every >= every / 2 + 0.5):
            out.append(f'<text x="{xf(i):.1f}" y="{height - (6 if compact else 20)}" text-anchor="middle" '
                       f'fill="{MUTED}">{e(lab)}</text>')
    # shade below 100 %
    y100 = yf(100)
    if y100 < top_pad + ph:
        out.append(f'<rect x="{left}" y="{y100:.1f}" width="{pw}" height="{top_pad + ph - y100:.1f}" '
                   f'fill="{RED}" fill-opacity="0.06"/>')
    out.append(f'<line x1="{left}" y1="{y100:.1f}" x2="{left + pw}" y2="{y100:.1f}" stroke="{RED}" '
               f'stroke-width="1.3" stroke-dasharray="5 4"/>')
    if not compact:
        out.append(f'<text x="{left + 4}" y="{y100 - 4:.1f}" fill="{RED}" font-weight="600">100 %</text>')
    ends: list[tuple[float, str, str]] = []
    for k, (name, vals) in enumerate(series):
        c = colors[k % len(colors)]
        d, pen = [], "M"
        for i, v in enumerate(vals):
            if v is None:
                pen = "M"
                continue
            d.append(f"{pen}{xf(i):.1f} {yf(_ratio_float(v)):.1f}")
            pen = "L"
        if d:
            out.append(f'<path d="{" ".join(d)}" fill="none" stroke="{c}" stroke-width="{1.8 if compact else 2}" '
                       f'stroke-linejoin="round"/>')
        for i, v in enumerate(vals):
            if v is not None and Fraction(v) < 100:
                out.append(f'<circle cx="{xf(i):.1f}" cy="{yf(_ratio_float(v)):.1f}" r="3.6" fill="{RED}" '
                           f'stroke="#fff" stroke-width="1"/>')
        if not compact:
            last = next(((i, v) for i, v in reversed(list(enumerate(vals))) if v is not None), None)
            if last is not None:
                ends.append((yf(_ratio_float(last[1])), name, c))
    # series names at the right end, pushed apart so that none overlaps
    ends.sort()
    placed: list[float] = []
    for yy, _, _ in ends:
        placed.append(max(yy, placed[-1] + 12) if placed else yy)
    shift = max(0.0, (placed[-1] - (top_pad + ph + 8)) if placed else 0.0)
    for k in range(len(placed) - 1, -1, -1):
        placed[k] -= shift
        if k + 1 < len(placed) and placed[k] > placed[k + 1] - 12:
            placed[k] = placed[k + 1] - 12
    for (yy, name, c), py in zip(ends, placed):
        out.append(f'<path d="M{left + pw + 1} {yy:.1f} L{left + pw + 7} {py:.1f}" stroke="{c}" fill="none"/>'
                   f'<text x="{left + pw + 10}" y="{py + 4:.1f}" fill="{c}" font-weight="600">{e(name)}</text>')
    out.append(f'<rect x="{left}" y="{top_pad}" width="{pw}" height="{ph}" fill="none" stroke="{LINE}"/>')
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------------------
# the report page
# --------------------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{e(title)}</title>"
            f"<style>{CSS}</style></head><body><main>\n{body}\n</main></body></html>\n")


def render_html(report: Report, signer_fingerprint: str) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG; no URL is fetched)."""
    r = report
    t = r.totals_usd
    below = t.assets_below_100
    if below:
        banner = (f'<div class="banner bad">&#9888; {len(below)} of {len(r.assets)} assets are BELOW '
                  f'100 % reserves: {e(", ".join(below))}</div>')
    else:
        banner = (f'<div class="banner ok">&#10003; Every asset with net customer liabilities is '
                  f'covered at 100 % or more ({len(r.assets)} assets)</div>')
    cards = "".join(
        f'<div class="card"><div class="k">{k}</div><div class="v"{style}>{v}</div></div>'
        for k, v, style in (
            ("Reserves (USD)", "$" + usd_cents_floor(t.reserves_usd), ""),
            ("Net customer liabilities (USD)", "$" + usd_cents_floor(t.net_liabilities_usd), ""),
            ("Overall reserve ratio", _pct_text(t.ratio_percent),
             f' style="color:{RED if t.below_100 else GREEN}"'),
            ("Assets below 100 %", f"{len(below)} of {len(r.assets)}",
             f' style="color:{RED if below else GREEN}"'),
        ))
    bars = ratio_bars_svg([(a.asset, a.ratio_percent, a.below_100,
                            "no reserves proven" if a.ratio_percent == "0.00" else
                            ("nothing owed net" if a.ratio_percent is None else ""))
                           for a in r.assets])
    top = sorted(r.assets, key=lambda a: -Fraction(a.net_liabilities_usd))[:10]
    pairs = usd_pairs_svg([(a.asset, a.reserves_usd, a.net_liabilities_usd, a.below_100) for a in top])
    rows = []
    for a in r.assets:
        if a.ratio_percent is None:
            status = '<span class="tag na">nothing owed</span>'
            pct = '<span class="pct">n/a</span>'
        elif a.below_100:
            status = '<span class="tag bad">BELOW 100 %</span>'
            pct = f'<span class="pct bad">{e(a.ratio_percent)} %</span>'
        else:
            status = '<span class="tag ok">covered</span>'
            pct = f'<span class="pct ok">{e(a.ratio_percent)} %</span>'
        unver = int(a.reserves_unverified)
        if not a.reserves_sources:
            src = f'<b style="color:{RED}">none proven</b>'
        elif unver == 0:
            src = "on chain"
        elif unver == int(a.reserves):
            src = "declared"
        else:
            src = (f"partly declared<br><span class=\"small\">declared "
                   f"{e(_units(a.reserves_unverified, a.decimals))}</span>")
        detail = ", ".join(f"{e(k.split(' (')[0])}: {v}" for k, v in a.reserves_sources.items())
        if detail:
            src += f'<br><span class="small">{detail}</span>'
        rows.append(
            f'<tr class="{"below" if a.below_100 else ""}"><td class="l"><b>{e(a.asset)}</b><br>'
            f'<span class="small">{e(a.name)}</span></td>'
            f'<td>{e(_units(a.reserves, a.decimals))}</td>'
            f'<td>{e(_units(a.net_liabilities, a.decimals))}<br><span class="small">'
            f'{e(_units(a.equity, a.decimals))} &minus; {e(_units(a.debt, a.decimals))}</span></td>'
            f'<td class="nw">{pct}<br>{status}</td><td>${e(usd_cents_floor(a.reserves_usd))}</td>'
            f'<td>${e(usd_cents_floor(a.net_liabilities_usd))}</td><td>${e(a.price_usd)}</td>'
            f'<td class="l">{src}</td></tr>')
    table = ("<div class=\"scroll\"><table><thead><tr><th class=\"l\">asset</th><th>reserves</th>"
             "<th>net liabilities<br>equity &minus; debt</th><th>ratio</th><th>reserves USD</th>"
             "<th>net liab. USD</th><th>price USD</th><th class=\"l\">reserves are</th></tr>"
             f"</thead><tbody>{''.join(rows)}</tbody></table></div>")
    heights = ", ".join(f"{e(k)} {v:,}" for k, v in r.block_heights.items())
    read = ", ".join(f"{e(k)} {v:,}" for k, v in r.assets_read_heights.items()) or "none given"
    extra = ""
    if r.extra_reserves:
        extra = ("<p class=\"small\">Reserves of assets outside the liabilities proof (not in any "
                 "ratio): " + ", ".join(f"{e(k)} {e(v)}" for k, v in r.extra_reserves.items()) + "</p>")
    body = f"""
<h1>Proof of Reserves &mdash; round {e(r.round_id)}</h1>
<p class="sub">Snapshot {e(r.snapshot_time)} &middot; {len(r.assets)} assets &middot; up to
{r.max_customers:,} customer accounts &middot; {r.wallets} exchange wallets &middot; por {e(r.tool.get('version', ''))}</p>
{banner}
<div class="cards">{cards}</div>

<h2>Reserve ratio per asset</h2>
<div class="charts">
<div class="chart"><h3>Reserves / net customer liabilities</h3>{bars}</div>
<div class="chart"><h3>Largest liabilities, in USD at the round's prices</h3>{pairs}</div>
</div>

<h2>Assets, liabilities and ratios</h2>
<p class="small">Amounts in whole units of each asset (exact). Ratio = reserves / (equity &minus; debt),
exact, shown rounded <b>down</b> to 0.01 %. USD values at the round's proven prices, rounded down to the cent.</p>
{table}
{extra}

<h2>Methodology</h2>
<p><b>Liabilities.</b> Every customer's per-asset equity and debt is committed in a Merkle tree
whose root is <span class="mono">{e(r.liabilities_root)}</span> (height {r.tree_height}). A
zero-knowledge proof (Plonky3, KoalaBear, Poseidon2, FRI) shows, without revealing any customer,
that every balance lies in [0, 2<sup>64</sup>), that the per-asset totals of equity <i>E</i> and
debt <i>D</i> above are their exact sums, that every customer is solvent under the published prices
and haircuts, that each leaf binds all of a customer's balances, and that accounts are distinct.
Net customer liabilities are <i>L</i> = <i>E</i> &minus; <i>D</i>.</p>
<p><b>Reserves.</b> Every exchange wallet signed the round's message
&ldquo;{e(r.wallet_message)}&rdquo;; por checks every signature, then reads each wallet's balance at
the snapshot height (read heights: {read}). Balances por cannot read on chain are marked
&ldquo;declared&rdquo; in the last column. An asset without any wallet in the assets proof has
reserves 0 and is flagged.</p>
<p><b>Ratios.</b> <i>A</i>/<i>L</i> is an exact fraction (<code>ratio_num/ratio_den</code> in
report.json); the percentage is rounded down, so 99.999 % shows as 99.99 % and is flagged: the
flag is decided on the exact fraction. When <i>L</i> &le; 0 the exchange owes its customers nothing
net in that asset and the ratio is shown as n/a (never flagged). Prices are exact integers in
10<sup>&minus;18</sup> USD per base unit. Snapshot block heights: {heights}.</p>

<h2>How to verify this report yourself</h2>
<p>Everything in this report is recomputed from the published bundle by the open-source
<code>por</code> tool. Check the signature against the exchange's report key, whose fingerprint is
<span class="mono">{e(signer_fingerprint)}</span>:</p>
<pre>por verify bundle BUNDLE --fingerprint {e(signer_fingerprint)}</pre>
<p>That checks the manifest's ed25519 signature, the SHA-256 of every file (none missing, none
extra), both proofs, and every number in report.json. To check your own balances are included,
with the inclusion proof the exchange gave you:</p>
<pre>por verify user --proof YOUR-PROOF.json --bundle BUNDLE/liabilities</pre>
<p>The exact commands to reproduce the checks one by one:</p>
<pre>por verify liabilities BUNDLE/liabilities
por verify assets BUNDLE/assets --evm-rpc URL --btc-rpc URL   # re-read balances at the snapshot height
por verify bundle BUNDLE --fingerprint {e(signer_fingerprint)} --json</pre>

<footer>Round {e(r.round_id)} &middot; liabilities root <span class="mono">{e(r.liabilities_root)}</span><br>
Report format {e(r.format)} v{r.version} &middot; signed by {e(signer_fingerprint)} in manifest.json</footer>
"""
    return _page(f"Proof of Reserves — {r.round_id}", body)


# --------------------------------------------------------------------------------------
# Chromium (Playwright)
# --------------------------------------------------------------------------------------


def chromium_path() -> str:
    """The Debian chromium binary (``POR_CHROMIUM`` overrides)."""
    for cand in (os.environ.get("POR_CHROMIUM"), shutil.which("chromium"),
                 "/usr/bin/chromium", shutil.which("chromium-browser")):
        if cand and os.path.exists(cand):
            return cand
    raise RuntimeError("headless Chromium not found: install the Debian package `chromium` "
                       "(scripts/system-deps.sh) or set POR_CHROMIUM")


class Browser:
    """One headless Chromium for several pages (context manager)."""

    def __enter__(self) -> "Browser":
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
        except Exception:
            self._pw.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self._browser.close()
        self._pw.stop()

    def _open(self, html_file: Path, width: int):
        page = self._browser.new_page(viewport={"width": width, "height": 900})
        # offline: a page that tried to fetch anything would fail loudly here
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                   else route.abort())
        page.goto(Path(html_file).resolve().as_uri(), wait_until="load")
        return page

    def pdf(self, html_file: Path, out: Path) -> None:
        page = self._open(html_file, 1120)
        page.emulate_media(media="print")
        page.pdf(path=str(out), format="A4", print_background=True, prefer_css_page_size=True)
        page.close()

    def png(self, html_file: Path, out: Path, width: int = 1180, height: int | None = None,
            selector: str | None = None) -> None:
        page = self._open(html_file, width)
        if selector:
            page.locator(selector).first.screenshot(path=str(out))
        elif height:
            page.screenshot(path=str(out), full_page=True,
                            clip={"x": 0, "y": 0, "width": width, "height": height})
        else:
            page.screenshot(path=str(out), full_page=True)
        page.close()


def render_pdf(html_file: Path, out: Path) -> None:
    with Browser() as b:
        b.pdf(html_file, out)


def render_png(html_file: Path, out: Path, width: int = 1180, height: int | None = None,
               selector: str | None = None) -> None:
    with Browser() as b:
        b.png(html_file, out, width, height, selector)


# --------------------------------------------------------------------------------------
# the history page
# --------------------------------------------------------------------------------------


def render_history_html(table: dict[str, Any]) -> str:
    """The history (a ``por-history`` document) as one self-contained HTML page."""
    from por.history import month_label

    rounds = table["rounds"]
    labels = [month_label(r["snapshot_time"]) for r in rounds]
    charted = table["charted_assets"]
    series = [(s, [p["ratio_percent"] for p in table["assets"][s]]) for s in charted]
    flagged = {s: m for s, m in table["months_below_100"].items() if s in charted}
    if flagged:
        n = sum(len(m) for m in flagged.values())
        banner = (f'<div class="banner bad">&#9888; {n} asset-months below 100 % reserves: '
                  + "; ".join(f"{e(s)} in {e(', '.join(m))}" for s, m in flagged.items()) + "</div>")
    else:
        banner = '<div class="banner ok">&#10003; No charted asset was below 100 % in any round</div>'
    big = line_chart_svg(labels, series, width=1060, height=360,
                         title="Reserve ratio per asset (reserves / net customer liabilities)")
    cells = []
    for k, (s, vals) in enumerate(series):
        last = next((v for v in reversed(vals) if v is not None), None)
        bad = s in flagged
        head = (f'<h3>{e(s)} <span class="pct {"bad" if last is not None and Fraction(last) < 100 else "ok"}">'
                f'{_pct_text(last)}</span> <span class="small">latest</span></h3><div class="small">'
                + (f'<b style="color:{RED}">below 100 % in {e(", ".join(flagged[s]))}</b>' if bad
                   else "never below 100 %") + "</div>")
        cells.append(f'<div class="chart">{head}'
                     + line_chart_svg(labels, [(s, vals)], width=340, height=150, compact=True,
                                      colors=[SERIES[k % len(SERIES)]]) + "</div>")
    ths = "".join(f"<th>{e(s)}</th>" for s in charted)
    trs = []
    for i, r in enumerate(rounds):
        tds = []
        for s in charted:
            p = table["assets"][s][i]
            v = p["ratio_percent"]
            ch = p["change_pp"]
            chs = f'<br><span class="small">{e(ch)} pp</span>' if ch is not None else ""
            cls = "pct bad" if p["below_100"] else "pct"
            tds.append(f'<td><span class="{cls}">{e(v if v is not None else "n/a")}</span>{chs}</td>')
        nb = len([a for a in r["assets_below_100"] if a in charted])
        tag = f'<span class="tag bad">{nb}</span>' if nb else '<span class="tag ok">0</span>'
        trs.append(f'<tr class="{"below" if nb else ""}"><td class="l"><b>{e(labels[i])}</b><br>'
                   f'<span class="small">{e(r["round_id"])}</span></td>{"".join(tds)}'
                   f'<td>{tag}</td></tr>')
    never = ""
    if table["never_proven"]:
        never = (f'<p class="small"><b style="color:{RED}">No reserves proven in any round</b> (no '
                 f'exchange wallet for these assets is in the assets proofs; 0.00 % every month, '
                 f'flagged in every report): {e(", ".join(table["never_proven"]))}. They are left '
                 f'out of the charts and this table.</p>')
    body = f"""
<h1>Reserve ratio history</h1>
<p class="sub">{len(rounds)} rounds, {e(labels[0] if labels else "")} to {e(labels[-1] if labels else "")}
&middot; every round's bundle verified (signature, hashes, both proofs, every report number)</p>
{banner}
<div class="chart" id="chart">{big}</div>
<h2>Per asset</h2>
<div class="grid">{"".join(cells)}</div>
<h2>Month by month</h2>
<p class="small">Reserve ratio in percent, rounded down to 0.01 %; below it the change from the
previous month in percentage points. Red: below 100 %.</p>
<table><thead><tr><th class="l">month</th>{ths}<th>below 100 %</th></tr></thead>
<tbody>{"".join(trs)}</tbody></table>
{never}
<footer>por history &middot; format {e(table["format"])} v{table["version"]}</footer>
"""
    return _page("Reserve ratio history", body)
