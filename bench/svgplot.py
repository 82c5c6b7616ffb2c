"""A small line chart as SVG (no plotting library needed): one x axis, one y axis, a few series."""
from __future__ import annotations

from html import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    step = 10 ** (len(str(int(top))) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if m * step * 5 >= top:
            return m * step
    return 10 * step


def line_chart(title: str, xlabel: str, ylabel: str, series: dict[str, list[tuple[float, float]]],
               width: int = 760, height: int = 380) -> str:
    left, right, top, bottom = 70, 190, 40, 50
    w, h = width - left - right, height - top - bottom
    xs = [x for pts in series.values() for x, _ in pts] or [0, 1]
    ys = [y for pts in series.values() for _, y in pts] or [0, 1]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    tick = _nice(max(ys) * 1.1 / 5)
    y1 = tick * max(1, -(-max(ys) * 1.1 // tick))

    def px(x):
        return left + (x - x0) / (x1 - x0) * w

    def py(y):
        return top + h - y / y1 * h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="DejaVu Sans, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>']
    y = 0.0
    while y <= y1 + 1e-9:
        out.append(f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + w}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
        y += tick
    xt = _nice((x1 - x0) / 6)
    x = x0
    while x <= x1 + 1e-9:
        out.append(f'<line x1="{px(x):.1f}" y1="{top + h}" x2="{px(x):.1f}" y2="{top + h + 4}" stroke="#333"/>')
        out.append(f'<text x="{px(x):.1f}" y="{top + h + 18}" text-anchor="middle">{x:g}</text>')
        x += xt
    out.append(f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#333"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#333"/>')
    out.append(f'<text x="{left + w / 2}" y="{height - 10}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="16" y="{top + h / 2}" text-anchor="middle" transform="rotate(-90 16 {top + h / 2})">'
               f'{escape(ylabel)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        c = COLOURS[i % len(COLOURS)]
        if pts:
            path = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in pts)
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{path}"/>')
            for a, b in pts:
                out.append(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="2.5" fill="{c}"/>')
        ly = top + 10 + 20 * i
        out.append(
            f'<line x1="{left + w + 14}" y1="{ly}" x2="{left + w + 34}" y2="{ly}" stroke="{c}" stroke-width="3"/>'
        )
        out.append(f'<text x="{left + w + 40}" y="{ly + 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
