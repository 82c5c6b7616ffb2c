"""The after-action report (HTML that prints well, and the same page as a PDF) and the programme
view across sessions. Instructor only.

The report's data is :func:`range.results.after_action`. The PDF is WeasyPrint's rendering of the
very page the console shows (its print style sheet), with the style sheet read from the app's
static folder rather than over HTTP.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template

from range.results import aar, after_action
from scoreboard.appstate import current_range
from scoreboard.auth import instructor_required

bp = Blueprint("aar", __name__)
BASE = "http://cyberrange.invalid/"


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


def laid_out(name: str):
    """The report laid out on A4 pages (a WeasyPrint document: its boxes say where everything went)."""
    from weasyprint import HTML
    html = render_template("report.html", r=after_action(current_range().store, name), pdf=True)
    return HTML(string=html, base_url=BASE, url_fetcher=_fetch).render()


def pdf(name: str) -> bytes:
    return laid_out(name).write_pdf()


def _pdf_response(name: str) -> Response:
    current_range().store.session(name)  # 404 first
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
    return programme_html(aar.programme(current_range().store))


def programme_html(p: dict) -> str:
    """The programme page; each chart's value axis spans every team's values (negative scores too)."""
    axes = {m: aar.axis([x[m] for rows in p["teams"].values() for x in rows]) for m in ("score", "recall")}
    return render_template("programme.html", p=p, axes=axes)


@bp.get("/api/programme")
@instructor_required
def programme():
    return jsonify(aar.programme(current_range().store))
