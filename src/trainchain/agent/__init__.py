"""The in-training-process agent and its tiny SDK (standard library only, import-light).

A script may use, with or without trainchain around it::

    import trainchain.agent as tc
    tc.log_metric("val_accuracy", 0.91)
    tc.checkpoint_dir(); tc.output_dir(); tc.log_model("output/model.keras"); tc.params()

The controller runs scripts as ``python -m trainchain.agent <entrypoint> [args]``; see
``runner`` for what happens then and ``events`` for what it records.
"""

# "One full pass" (FULL_PASS_STEPS): the value the controller gives a steps-like parameter that
# has no default; the agent clamps steps_per_epoch/validation_steps above one pass to one pass.
from trainchain.agent.data_sizes import FULL_PASS_STEPS
from trainchain.agent.sdk import checkpoint_dir, log_metric, log_model, output_dir, params
from trainchain.agent.stdout_metrics import STDOUT_PATTERNS

__all__ = [
    "FULL_PASS_STEPS",
    "STDOUT_PATTERNS",
    "checkpoint_dir",
    "log_metric",
    "log_model",
    "output_dir",
    "params",
]
