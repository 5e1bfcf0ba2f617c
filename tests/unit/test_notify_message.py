"""What notifications say: headline, facts, text body, GitHub description, chart, payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
from xml.etree import ElementTree

import pytest

from trainchain.errors import NotifyError
from trainchain.notify import message
from trainchain.notify.chart import trial_chart
from trainchain.notify.email import parse_smtp_url
from trainchain.notify.github import repo_from_source
from trainchain.notify.sample import sample_report
from trainchain.notify.slack import slack_payload
from trainchain.notify.webhook import webhook_payload
from trainchain.report import MetricSpec, RunReport, TrialReport
from trainchain.signing import sign

SVG = "{http://www.w3.org/2000/svg}"


def run(event: str = "succeeded", **changes: object) -> RunReport:
    report = sample_report("https://github.com/acme/digits.git", "f" * 40, "main", event=event)
    for key, value in changes.items():
        setattr(report, key, value)
    return report


def test_succeeded_says_metric_target_params_model_and_champion() -> None:
    text = message.text_body("succeeded", run(run_id="r-1"))
    assert text.startswith(
        "digits@fffffff (main) reached the target: val_accuracy 0.917 >= target 0.9\n"
    )
    assert "Best parameters: epochs=15, learning_rate=0.0005" in text
    assert "Model:           notify-test v3" in text
    assert "Champion:        yes, now the champion" in text
    assert "#5   complete     0.917  epochs=15, learning_rate=0.0005" in text


def test_target_not_reached_says_what_was_tried() -> None:
    report = run("target_not_reached", became_champion=False)
    facts = dict(message.facts("target_not_reached", report))
    assert facts["Result"] == "val_accuracy 0.917 < target 0.95"
    assert facts["Tried"] == "epochs 3..15; learning_rate 0.0005..0.01"
    assert facts["Trials"] == "6 (5 complete, 1 pruned)"
    assert facts["Champion"] == "no, champion kept"


def test_a_trial_that_failed_after_training_is_a_warning_in_every_message() -> None:
    report = run()
    warning = "the script failed after training finished at cnn.py:31: OSError: no model.h5"
    for trial in report.trials[:2]:
        trial.warning = warning
    facts = message.facts("succeeded", report)
    numbers = ", ".join(f"#{t.number}" for t in report.trials[:2])
    assert ("Warning", f"trials {numbers}: {warning}") in facts  # once, not once per trial
    text = message.text_body("succeeded", report)
    assert "(warning: failed after training)" in text and "cnn.py:31" in text
    assert not [row for row in message.facts("succeeded", run()) if row[0] == "Warning"]


def test_failed_names_stage_and_reason() -> None:
    report = run("failed", failed_stage="detect", error="no training entrypoint in /x")
    facts = dict(message.facts("failed", report))
    assert facts["Failed stage"] == "detect" and facts["Reason"] == "no training entrypoint in /x"
    assert message.headline("failed", report) == "[TEST] digits@fffffff (main) failed in detect"


def test_test_reports_are_marked_and_real_ones_are_not() -> None:
    assert message.facts("succeeded", run())[0][0] == "Test"
    real = run(run_id="run-42")
    assert not message.is_test(real) and "[TEST]" not in message.headline("succeeded", real)


def test_minimize_goal_compares_the_other_way() -> None:
    report = run(
        metric=MetricSpec("val_loss", "minimize", 0.3),
        best={"trial": 1, "value": 0.25, "params": {}},
    )
    assert message.comparison(report) == "val_loss 0.25 <= target 0.3"
    report.best = {"trial": 1, "value": 0.35, "params": {}}
    assert message.comparison(report) == "val_loss 0.35 > target 0.3"


@pytest.mark.parametrize("event", ["started", "succeeded", "target_not_reached", "failed"])
def test_github_description_fits_140_characters(event: str) -> None:
    report = run(event, error="x" * 500, failed_stage="train")
    text = message.short_description(event, report)
    assert 0 < len(text) <= 140 and "\n" not in text
    if event == "failed":
        assert text.startswith("[TEST] failed in train: xxx") and text.endswith("...")


def test_chart_has_a_dot_per_valued_trial_and_the_target_line() -> None:
    trials = [
        TrialReport(3, "complete", 0.6, {}),  # out of order on purpose: sorted by number
        TrialReport(0, "complete", 0.5, {}),
        TrialReport(1, "failed", None, {}),
        TrialReport(2, "pruned", 0.7, {}),  # intermediate value: not a "best"
        TrialReport(4, "complete", 0.55, {}),
    ]
    svg = ElementTree.fromstring(trial_chart(trials, MetricSpec("acc", "maximize", 0.8)))
    dots = svg.findall(f"{SVG}circle")
    assert len(dots) == 4
    target = svg.find(f"{SVG}line[@class='target']")
    assert target is not None
    # the target (0.8) is the highest value, so its line lies above every dot
    assert all(float(target.get("y1", 0)) < float(d.get("cy", 0)) for d in dots)
    best = svg.find(f"{SVG}polyline[@class='best']")
    assert best is not None
    xy = [tuple(map(float, p.split(","))) for p in best.get("points", "").split()]
    ys = [py for _, py in xy]
    assert ys == sorted(ys, reverse=True)  # best-so-far never gets worse (y grows downward)
    assert [px for px, _ in xy] == sorted(px for px, _ in xy)  # left to right
    by_value = {d.findtext(f"{SVG}title"): float(d.get("cy", 0)) for d in dots}
    assert min(ys) == by_value["trial 3: 0.6 (complete)"]  # not the pruned 0.7


def test_chart_without_values_says_so() -> None:
    svg = trial_chart([TrialReport(0, "failed", None, {})], MetricSpec("acc", "maximize", 0.8))
    assert "no trial produced a value" in svg and ElementTree.fromstring(svg) is not None


def test_slack_payload_escapes_and_limits_fields() -> None:
    report = run("failed", failed_stage="train", error="loss <nan> & diverged")
    payload = slack_payload("failed", report)
    assert payload["blocks"][0]["type"] == "header" and payload["text"].startswith(":x:")
    fields = [f["text"] for b in payload["blocks"] if b["type"] == "section" for f in b["fields"]]
    assert "*Reason*\nloss &lt;nan&gt; &amp; diverged" in fields
    json.dumps(payload)


def test_webhook_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = json.dumps(webhook_payload("started", run(), "id-1")).encode()
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign("k", body) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("source", "repo"),
    [
        ("https://github.com/acme/digits.git", "acme/digits"),
        ("git@github.com:acme/digits.git", "acme/digits"),
        ("ssh://git@ghe.corp:22/team/model", "team/model"),
        ("https://ghe.corp/team/model/", "team/model"),
        ("/home/me/digits", None),
        ("digits", None),
    ],
)
def test_repo_from_source(source: str, repo: str | None) -> None:
    assert repo_from_source(source) == repo


def test_smtp_url_is_parsed_and_errors_hide_the_password() -> None:
    server = parse_smtp_url("smtp://me%40x.org:p%40ss@mail.x.org:587", "TC_SMTP")
    assert (server.scheme, server.host, server.port) == ("smtp", "mail.x.org", 587)
    assert (server.user, server.password) == ("me@x.org", "p@ss")
    assert parse_smtp_url("smtps://mail.x.org", "E").port == 465
    for bad in ("http://u:hunter2@x.org", "u:hunter2@x.org", "smtp://u:hunter2@x.org:99999"):
        with pytest.raises(NotifyError) as info:
            parse_smtp_url(bad, "TC_SMTP")
        assert "TC_SMTP" in info.value.message and "hunter2" not in info.value.message
