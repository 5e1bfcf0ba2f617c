from typing import Any

from trainchain.states import OutcomeKind as K
from trainchain.trials.policy import AttemptSummary, decide

BOOM = {"type": "FileNotFoundError", "message": "model.h5", "file": "train.py", "line": 12}


def a(
    kind: K, reason: str = "", exc: dict[str, Any] | None = None, last: int | None = None
) -> AttemptSummary:
    return AttemptSummary(kind, reason, exc, last)


def test_kill_restarts_with_growing_backoff_until_the_budget() -> None:
    history = [a(K.KILLED, "killed by SIGKILL", last=3)]
    first = decide(history, max_restarts=2, base_backoff=1)
    assert first.restart and first.backoff == 1
    history.append(a(K.KILLED, "killed by SIGKILL", last=5))
    second = decide(history, max_restarts=2, base_backoff=1)
    assert second.restart and second.backoff == 2
    history.append(a(K.KILLED, "killed by SIGKILL", last=6))
    third = decide(history, max_restarts=2)
    assert not third.restart and "gave up after 2 restarts" in third.reason


def test_same_exception_twice_is_a_crash_loop() -> None:
    history = [a(K.FAILED, "exited with code 1", BOOM), a(K.FAILED, "exited with code 1", BOOM)]
    decision = decide(history, max_restarts=5)
    assert (
        not decision.restart
        and "crash loop" in decision.reason
        and "FileNotFoundError" in decision.reason
    )


def test_failure_before_first_epoch_twice_is_a_crash_loop() -> None:
    history = [a(K.FAILED, "exited with code 1"), a(K.FAILED, "exited with code 1")]
    assert "crash loop" in decide(history, max_restarts=5).reason


def test_progressing_failures_are_retried() -> None:
    history = [a(K.FAILED, "exited with code 1", last=2), a(K.FAILED, "exited with code 1", last=4)]
    assert decide(history, max_restarts=5).restart


def test_oom_halves_the_batch() -> None:
    decision = decide([a(K.OOM, "out of memory", last=1)], max_restarts=3)
    assert decision.restart and decision.halve_batch and "half the batch" in decision.reason


def test_no_retry_for_mistakes_timeouts_and_success() -> None:
    assert not decide([a(K.FAILED, "exited with code 1", {"type": "SyntaxError"})], 3).restart
    assert not decide([a(K.FAILED, "exited with code 2")], 3).restart  # unanswered prompt
    assert not decide([a(K.TIMEOUT, "exceeded")], 3).restart
    assert not decide([a(K.SUCCEEDED)], 3).restart


def test_lost_attempts_restart_without_using_the_restart_budget() -> None:
    lost = a(K.LOST, "the attempt was lost with Ray node n1")
    history = [lost, lost]  # twice, no epoch: not a crash loop, and max_restarts=0 still restarts
    decision = decide(history, max_restarts=0)
    assert decision.restart and decision.backoff == 0 and "do not count" in decision.reason
    history = [lost, a(K.KILLED, "killed by SIGKILL", last=2)]
    assert decide(history, max_restarts=1).restart  # the lost one did not use the one restart
    history.append(a(K.KILLED, "killed by SIGKILL", last=3))
    assert not decide(history, max_restarts=1).restart


def test_a_node_that_keeps_dying_ends_the_trial() -> None:
    history = [a(K.LOST, "lost with its node")] * 6
    decision = decide(history, max_restarts=3)
    assert not decision.restart and "gave up after 6 lost attempts" in decision.reason


def test_a_missing_input_is_never_restarted_and_says_how_to_give_it() -> None:
    missing = {
        **BOOM,
        "message": "No such file or directory: 'cnn_dataset/training_set/'",
        "missing_input": "cnn_dataset/training_set/",
    }
    decision = decide([a(K.FAILED, "exited with code 1", missing)], max_restarts=3)
    assert not decision.restart
    assert "missing input: the script reads cnn_dataset/training_set/ at train.py:12" in (
        decision.reason
    )
    assert "--data cnn_dataset=PATH" in decision.reason and "data:" in decision.reason
    absolute = {**BOOM, "missing_input": "/root/input.txt"}
    assert "--data /root/input.txt=PATH" in decide([a(K.FAILED, "", absolute)], 3).reason


def test_a_crash_after_training_is_never_restarted() -> None:
    done = a(K.SUCCEEDED_WITH_ERROR, "the script failed after training finished", BOOM, last=5)
    decision = decide([done], max_restarts=3)
    assert not decision.restart and "after training" in decision.reason
