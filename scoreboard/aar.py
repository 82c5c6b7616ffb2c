"""The after-action report (HTML that prints well, and the same page as a PDF) and the programme
view across sessions. Instructor only.

The report's data is :func:`scoreboard.data.report` plus the CSIRT workflow: each team's score split
by source, its incident reports and their marks, its sharing, the reference rule that would have
caught each missed step, and the reports on the timeline. The PDF is WeasyPrint's rendering of the
very page the console shows (its print style sheet), with the style sheet read from the app's
static folder rather than over HTTP.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template

from range.results import aar
from range.csirt import workflow as csirt
from range.csirt import rsit
from range.csirt.reports import summary
from scoreboard import data, rng
from scoreboard.auth import instructor_required

bp = Blueprint("aar", __name__)
BASE = "http://cyberrange.invalid/"


def report(store, name: str) -> dict:
    r = data.report(store, name)
    origin = store.session(name)["scenario_start"]
    share = csirt.session_share_marks(store, name)
    rules = aar.reference_rules()
    expect = {}
    for st in r["story"]:
        e = rsit.expected(st["technique"])
        expect[st["id"]] = st["rsit"] = [rsit.label(c, t) for c, t in e.rsit]
    reports_all = csirt.reports(store, name)
    for t in r["teams"]:
        f = data.facts(store, name, t["team"])
        marks = csirt.team_marks(store, name, t["team"], f.truth, f.score, f.alerts) if f else []
        by_pk = {x["pk"]: x for x in reports_all if x["team"] == t["team"]}
        t["breakdown"] = aar.breakdown(t["ledger"])
        t["report_summary"] = summary(marks, t["steps"])
        t["report_marks"] = [{"pk": m["report"], "title": by_pk[m["report"]]["title"],
                              "label": by_pk[m["report"]]["classification"]["label"],
                              "severity": by_pk[m["report"]]["severity"], "step": m["step"],
                              "points": m["points"] if m["counted"] else 0.0, "counted": m["counted"],
                              "accuracy": m["accuracy"], "delay": m["delay_seconds"], "reason": m["reason"],
                              "overridden": bool(m.get("overridden")),
                              "filed": round(by_pk[m["report"]]["filed_at"] - origin, 1),
                              "comments": by_pk[m["report"]]["comments"]} for m in marks]
        t["marks"] = sorted(t["marks"] + [{"t": x["filed"], "kind": "report", "step": x["step"], "pk": x["pk"]}
                                          for x in t["report_marks"]], key=lambda m: m["t"])
        t["sharing"] = aar.sharing_figures(share, t["team"])
        for d in t["missed"]:
            d["reference_rules"] = aar.rules_for(d["attack"], rules)
            d["rsit"] = expect.get(d["id"], [])
        for d in t["steps_detail"]:
            d["reports"] = [x for x in t["report_marks"] if x["step"] == d["id"] and x["counted"]]
    by_pk = {m["pk"]: m for m in share}
    r["indicators"] = [dict(i, mark=by_pk.get(i["pk"]), at=round(i["published_at"] - origin, 1))
                       for i in csirt.indicators(store, name)]
    return r


def _fetch(url: str):
    """WeasyPrint's fetcher: the app's static files; nothing from the network."""
    if url.startswith(BASE + "static/"):
        rel = url[len(BASE + "static/"):].split("?", 1)[0]
        root = Path(current_app.static_folder).resolve()
        path = (root / rel).resolve()
        if root in path.parents and path.is_file():
            from weasyprint.urls import URLFetcherResponse
            return URLFetcherResponse(url, body=path.read_bytes(), headers={
                "Content-Type": mimetypes.guess_type(path.name)[0] or "text/plain"})
    raise ValueError(f"the report may load only the app's static files, not {url}")


def pdf(name: str) -> bytes:
    from weasyprint import HTML
    html = render_template("report.html", r=report(rng().store, name), pdf=True)
    return HTML(string=html, base_url=BASE, url_fetcher=_fetch).write_pdf()


def _pdf_response(name: str) -> Response:
    rng().store.session(name)  # 404 first
    return Response(pdf(name), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}-after-action-report.pdf"'})


@bp.get("/console/<name>/report.pdf")
@instructor_required
def report_pdf(name: str):
    return _pdf_response(name)


@bp.get("/api/sessions/<name>/report.pdf")
@instructor_required
def api_report_pdf(name: str):
    return _pdf_response(name)


@bp.get("/console/programme")
@instructor_required
def programme_page():
    return render_template("programme.html", p=aar.programme(rng().store))


@bp.get("/api/programme")
@instructor_required
def programme():
    return jsonify(aar.programme(rng().store))
