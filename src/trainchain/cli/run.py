"""`trainchain run` and `trainchain resume`."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape

from trainchain.cli.view import ProgressView
from trainchain.states import RunStatus


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{text!r}: expected NAME=VALUE", param_hint=flag)
        out[name.strip()] = value.strip()
    return out


def _params(values: tuple[str, ...]) -> dict[str, Any]:
    from trainchain.stages.train import coerce

    return {name: coerce(value, None) for name, value in _pairs(values, "--param").items()}


@click.command()
@click.argument("source")
@click.option("--ref", help="Branch, tag or commit to train (git sources).")
@click.option("--target", type=float, help="Stop tuning at this metric value [default: 0.80].")
@click.option("--metric", help="Metric to optimize [default: auto: held-out metrics first].")
@click.option(
    "--goal", type=click.Choice(["maximize", "minimize"]), help="Direction [default: maximize]."
)
@click.option("--max-trials", type=int, help="Trials in all, baseline included [default: 20].")
@click.option("--timeout", type=float, help="Wall-time budget of tuning, in seconds.")
@click.option("--max-epochs-total", type=int, help="Budget of epochs summed over trials.")
@click.option("--trial-timeout", type=float, help="Seconds one trial may take.")
@click.option("--no-tune", is_flag=True, help="Run the baseline only.")
@click.option(
    "--param",
    "param",
    multiple=True,
    metavar="NAME=VALUE",
    help="Baseline value of a parameter (repeatable).",
)
@click.option(
    "--data",
    multiple=True,
    metavar="NAME=PATH",
    help="Make PATH visible as ./NAME to the script (repeatable).",
)
@click.option("--entrypoint", help="Script or notebook to train [default: detected].")
@click.option(
    "--profile",
    help="Force an environment profile (keras, keras-legacy, sklearn, pytorch, generic).",
)
@click.option(
    "--runtime",
    type=click.Choice(["local", "docker", "ray", "auto"]),
    help="Where trials run [default: local].",
)
@click.option(
    "--ray-address",
    metavar="ADDRESS",
    help="Ray cluster for --runtime ray: auto, HOST:6379 or ray://HOST:10001 "
    "[default: $TRAINCHAIN_RAY_ADDRESS or auto].",
)
@click.option(
    "--storage",
    metavar="PATH",
    help="Shared directory for the run's files, mounted at the same path on every machine "
    "(the ray runtime) [default: $TRAINCHAIN_STORAGE or the home].",
)
@click.option(
    "--sampler",
    type=click.Choice(["tpe", "random", "cmaes", "grid"]),
    help="Optuna sampler [default: tpe].",
)
@click.option(
    "--pruner",
    type=click.Choice(["asha", "hyperband", "median", "none"]),
    help="Pruner: asha (successive halving over epochs), hyperband, median, each behind a "
    "chance-level/divergence guard; none [default: asha].",
)
@click.option("--seed", type=int, help="Sampler seed, for repeatable searches.")
@click.option("--parallel", type=int, help="Trials run at once [default: 1].")
@click.option("--name", help="Model name in the registry [default: the repository's name].")
@click.option("--quiet", is_flag=True, help="Only the outcome.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.pass_context
def run(
    ctx: click.Context,
    /,
    source: str,
    ref: str | None,
    no_tune: bool,
    param: tuple[str, ...],
    data: tuple[str, ...],
    quiet: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Run the chain on SOURCE: a directory, a git repository or a git URL.

    Exit codes: 0 target reached; 3 budget spent below the target (the best model is still
    registered); 1 the run failed; 2 usage or configuration error.
    """
    from trainchain.pipeline import Pipeline

    _ray_address(flags.pop("ray_address", None))
    options: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    if no_tune:
        options["tune"] = False
    if param:
        options["params"] = _params(param)
    if data:
        options["data"] = _pairs(data, "--data")
    view = ProgressView("json" if as_json else "quiet" if quiet else "live")
    pipeline = Pipeline(progress=view)
    run_id = pipeline.create_run(source, ref=ref, options=options)
    if not as_json:
        view.console.print(
            f"run [bold]{run_id}[/] — `trainchain resume {run_id}` continues it if interrupted"
        )
    _finish(ctx, pipeline, run_id, view, as_json)


@click.command()
@click.argument("run_id")
@click.option("--quiet", is_flag=True, help="Only the outcome.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.option(
    "--ray-address", metavar="ADDRESS", help="Ray cluster of a --runtime ray run (see run)."
)
@click.pass_context
def resume(
    ctx: click.Context, run_id: str, quiet: bool, as_json: bool, ray_address: str | None
) -> None:
    """Continue RUN_ID from its first unfinished stage; finished trials are never rerun.

    Attempts still training on a Ray cluster are followed again, not restarted.
    """
    from trainchain.pipeline import Pipeline

    _ray_address(ray_address)

    view = ProgressView("json" if as_json else "quiet" if quiet else "live")
    pipeline = Pipeline(progress=view)
    run_id = pipeline.store.get_run(run_id).id
    _finish(ctx, pipeline, run_id, view, as_json)


def _ray_address(address: str | None) -> None:
    """An operator's setting, never the repository's: it goes to this process's environment."""
    import os

    if address:
        os.environ["TRAINCHAIN_RAY_ADDRESS"] = address


def _finish(
    ctx: click.Context, pipeline: Any, run_id: str, view: ProgressView, as_json: bool
) -> None:
    try:
        outcome = pipeline.execute(run_id)
    finally:
        view.close()
    report = outcome.report
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print_summary(view, report)
    ctx.exit(outcome.exit_code)


def print_summary(view: ProgressView, report: Any) -> None:
    out = view.console
    metric = report.metric
    if report.status == RunStatus.FAILED:
        out.print(
            f"[red bold]run {report.run_id} failed[/] in {report.failed_stage}: "
            f"{escape(report.error or '')}"
        )
        return
    best = report.best or {}
    verdict = (
        "[green bold]target reached[/]"
        if report.status == RunStatus.SUCCEEDED
        else "[yellow bold]target not reached[/]"
    )
    baseline = (report.baseline or {}).get("value")
    out.print(
        f"{verdict}: {metric.name} {best.get('value', float('nan')):.4f} "
        f"(target {metric.target:g}, baseline {'-' if baseline is None else f'{baseline:.4f}'}) "
        f"after {len(report.trials)} trial(s); best trial {best.get('trial')}"
    )
    if best.get("params"):
        out.print(
            "  best parameters: " + escape(", ".join(f"{k}={v}" for k, v in best["params"].items()))
        )
    if report.model:
        champion = " — new champion" if report.became_champion else ""
        out.print(
            f"  model {report.model.name} v{report.model.version}{champion}: {report.model.path}"
        )
