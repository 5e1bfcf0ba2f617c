"""The HTML alternative of the email: facts, the trial chart (inline SVG) and a trial table.

Inline styles only and no external resources (images, fonts, CSS), so mail clients that
block remote content still show everything.
"""

from __future__ import annotations

from html import escape

from trainchain.notify import message
from trainchain.notify.chart import trial_chart
from trainchain.report import RunReport

_COLOR = {
    "started": "#1f77b4",
    "succeeded": "#2ca02c",
    "target_not_reached": "#ff7f0e",
    "failed": "#d62728",
}
_CELL = 'style="padding:3px 10px 3px 0;vertical-align:top;text-align:left"'


def html_body(event: str, report: RunReport) -> str:
    color = _COLOR.get(event, "#333333")
    rows = "".join(
        f"<tr><th {_CELL}>{escape(label)}</th><td {_CELL}>{escape(value)}</td></tr>"
        for label, value in message.facts(event, report)
    )
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8">',
        f"<title>{escape(message.headline(event, report))}</title></head>",
        '<body style="font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222">',
        f'<h2 style="color:{color};font-size:18px">{escape(message.headline(event, report))}</h2>',
        f'<table style="border-collapse:collapse">{rows}</table>',
    ]
    if event != "started" and report.trials:
        parts.append('<div style="margin:16px 0">')
        parts.append(trial_chart(report.trials, report.metric))
        parts.append("</div>")
        parts.append(_trial_table(report))
    parts.append('<p style="color:#888;font-size:12px">sent by trainchain</p></body></html>')
    return "".join(parts)


def _trial_table(report: RunReport) -> str:
    head = "".join(
        f"<th {_CELL}>{h}</th>" for h in ("trial", "state", escape(report.metric.name), "params")
    )
    body = []
    for t in report.trials:
        value = message.fmt(t.value) if t.value is not None else "-"
        params = escape(message.params_text(t.params))
        note = f"<br><small>{escape(t.error)}</small>" if t.error else ""
        body.append(
            f"<tr><td {_CELL}>{t.number}</td><td {_CELL}>{escape(t.state)}</td>"
            f"<td {_CELL}>{value}</td><td {_CELL}>{params}{note}</td></tr>"
        )
    return f'<table style="border-collapse:collapse"><tr>{head}</tr>{"".join(body)}</table>'
