from trainchain.trials.metrics import better, choose_metric, epoch_value, reaches

EPOCH = {
    "type": "epoch",
    "epoch": 2,
    "metrics": {"loss": 0.9, "accuracy": 0.55, "val_loss": 1.0, "val_accuracy": 0.6},
}


def metric(name: str, value: float, source: str) -> dict[str, object]:
    return {"type": "metric", "name": name, "value": value, "source": source}


def test_evaluate_beats_validation_beats_training() -> None:
    events = [
        EPOCH,
        metric("accuracy", 0.7, "keras_evaluate"),
        metric("loss", 0.8, "keras_evaluate"),
    ]
    choice = choose_metric(events)
    assert choice and (choice.name, choice.value, choice.source) == (
        "accuracy",
        0.7,
        "keras_evaluate",
    )
    assert choice.all_metrics["accuracy"] == 0.7  # held-out value wins the name
    choice = choose_metric([EPOCH])
    assert choice and (choice.name, choice.source) == ("val_accuracy", "keras_epoch")


def test_sdk_first_and_printed_test_figures_before_training_ones() -> None:
    choice = choose_metric([EPOCH, metric("f1", 0.5, "sdk")])
    assert choice and choice.source == "sdk"
    printed = [metric("accuracy", 0.99, "stdout"), metric("test_acc", 0.9, "stdout")]
    choice = choose_metric(printed)
    assert choice and choice.name == "test_acc"


def test_named_metric_and_missing_metric() -> None:
    choice = choose_metric([EPOCH], "val_loss", "minimize")
    assert choice and choice.value == 1.0
    assert choose_metric([EPOCH], "auc") is None
    assert choose_metric([{"type": "start"}]) is None


def test_minimize_prefers_losses() -> None:
    choice = choose_metric([EPOCH], goal="minimize")
    assert choice and choice.name == "val_loss"


def test_helpers() -> None:
    assert epoch_value(EPOCH["metrics"], "accuracy") == 0.6  # type: ignore[arg-type]
    assert reaches(0.8, 0.8, "maximize") and not reaches(0.79, 0.8, "maximize")
    assert reaches(0.1, 0.2, "minimize") and not reaches(None, 0.2, "minimize")
    assert (
        better(0.9, 0.8, "maximize")
        and better(0.1, 0.2, "minimize")
        and not better(None, 0.1, "maximize")
    )


def test_best_trial_counts_only_complete_trials_on_the_same_metric() -> None:
    from dataclasses import dataclass

    from trainchain.trials.metrics import best_trial

    @dataclass
    class T:
        state: str
        value: float | None
        metric_name: str | None

    trials = [
        T("complete", 0.7, "accuracy"),
        T("complete", 0.95, "f1"),
        T("failed", None, None),
        T("pruned", 0.99, "accuracy"),
        T("complete", 0.8, "accuracy"),
        T("complete", 0.8, "accuracy"),
    ]
    assert best_trial(trials, "accuracy", "maximize") is trials[4]  # the earliest of a tie
    assert best_trial(trials, "accuracy", "minimize") is trials[0]
    assert best_trial(trials, "loss", "minimize") is None
