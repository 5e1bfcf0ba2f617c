"""``keras``: Keras 3 (or ``tf.keras``) models, run on TensorFlow CPU.

The agent adds knobs to Keras scripts (``KERAS_KNOBS``): ``keras.epochs``, ``keras.batch_size``
and ``keras.learning_rate`` with the space's rules, centred on literal ``fit``/optimizer values
when the script writes them, and only when the script has no parameter of its own for them
(``keras.batch_size`` only when ``fit`` gets arrays, not a generator or dataset); for Sequential
models the architecture knobs ``keras.width`` (float 0.5..2, log), ``keras.dropout`` (float
0..0.5) and, for CNNs, ``keras.extra_conv_blocks`` (int 0..2), ``keras.augment`` (none, flip,
flip_rotate, flip_rotate_zoom) and ``keras.batchnorm`` (bool); for every Keras model whose
script has no optimizer parameter of its own, ``keras.optimizer`` (adam, sgd, rmsprop).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from trainchain.agent.naming import KERAS_KNOBS
from trainchain.detection import knowledge as kb
from trainchain.detection.arguments import rule_for
from trainchain.profiles.base import Evidence, Profile
from trainchain.space import BASELINES, Spec, argument_space, int_spec, make_spec

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts
    from trainchain.detection.result import Detection

_FIT_KNOBS = (
    ("keras.epochs", "keras.fit.epochs"),
    ("keras.batch_size", "keras.fit.batch_size"),
    ("keras.learning_rate", "keras.optimizer.learning_rate"),
)


class KerasProfile(Profile):
    name = "keras"
    framework = "keras"
    description = "Keras 3 on TensorFlow (CPU)"
    priority = 20
    pins: ClassVar[tuple[str, ...]] = (
        "tensorflow-cpu==2.21.0",
        "keras==3.15.1",
        "numpy==2.4.6",
        "h5py==3.14.0",
    )
    replaces: ClassVar[tuple[str, ...]] = (
        "tensorflow",
        "tensorflow-cpu",
        "tensorflow-gpu",
        "keras",
        "tf-keras",
        "numpy",
    )
    image_env = {"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    knob_names = KERAS_KNOBS

    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claims a project whose training scope trains a Keras (or TensorFlow) model."""
        trained = project.trained.get("keras")
        if not trained:
            return None
        first = trained[0]
        return Evidence(
            f"trains with Keras: {first.why} ({first.file}:{first.line})", tuple(trained)
        )

    def facts(self, project: ProjectFacts) -> dict[str, Any]:
        """``sequential``: a Sequential model is built (the architecture knobs apply);
        ``defaults``: literal ``fit``/optimizer values, see ``fit_defaults``."""
        sequential = any(qual in kb.KERAS_SEQUENTIAL for _, _, qual, _ in project.calls())
        return {"sequential": sequential, "defaults": fit_defaults(project)}

    def knobs(self, detection: Detection, roles: set[str | None]) -> dict[str, Spec]:
        """The agent's Keras knobs; fit/optimizer knobs only where the script has no own param."""
        facts = detection.framework_facts
        defaults = facts.get("defaults", {})
        knobs: dict[str, Spec] = {}
        for knob, flow in _FIT_KNOBS:
            rule = rule_for(flow)
            assert rule is not None and rule.role is not None, flow
            if rule.role == "batch" and not defaults.get("array_input", True):
                continue  # fit gets a generator or dataset: it brings its own batches
            if rule.role not in roles:
                written = defaults.get(knob[6:])
                center = written if written is not None else BASELINES[rule.role]
                spec = argument_space(rule.type or "float", flow, rule, written, center)
                if spec:
                    knobs[knob] = spec
        if facts.get("sequential"):
            knobs["keras.width"] = make_spec(
                "float", 0.5, 2.0, log=True, why="agent knob: multiplier on Conv/Dense widths"
            )
            if detection.model_family == "cnn":
                knobs["keras.extra_conv_blocks"] = int_spec(0, 2)
                knobs["keras.extra_conv_blocks"]["why"] = "agent knob: Conv+Pool blocks added"
            knobs["keras.dropout"] = make_spec(
                "float", 0.0, 0.5, why="agent knob: dropout before the output layer"
            )
            if detection.model_family == "cnn":
                knobs["keras.augment"] = make_spec(
                    "categorical",
                    choices=["none", "flip", "flip_rotate", "flip_rotate_zoom"],
                    why="agent knob: augmentation layers in front (image inputs only)",
                )
                knobs["keras.batchnorm"] = make_spec(
                    "bool", choices=[False, True], why="agent knob: BatchNormalization after convs"
                )
        if not any(re.search("optim", p.name, re.I) for p in detection.parameters):
            knobs["keras.optimizer"] = make_spec(
                "categorical",
                choices=["adam", "sgd", "rmsprop"],
                why="agent knob: optimizer at compile, the learning rate kept (sgd: momentum 0.9)",
            )
        assert set(knobs) <= set(self.knob_names), set(knobs) - set(self.knob_names)
        return knobs


def fit_defaults(project: ProjectFacts) -> dict[str, Any]:
    """Literal epochs/batch_size of ``fit`` and learning rate of the optimizer, if written.

    ``array_input`` is True when some ``fit`` gets ``x, y`` arrays (batch size applies);
    a generator or dataset carries its own batches.
    """
    found: dict[str, Any] = {"array_input": False}
    for facts in project.files.values():
        for method in facts.methods:
            if method.method == "fit" and (
                method.positional >= 2 or {"y", "batch_size"} & set(method.keywords)
            ):
                found["array_input"] = True
            if method.method in ("fit", "fit_generator"):
                for key, value in method.literals:
                    if key in ("epochs", "batch_size") and isinstance(value, int):
                        found.setdefault(key, value)
        for call in facts.calls:
            if call.qualname.rsplit(".", 1)[-1] in kb.KERAS_OPTIMIZERS:
                for key, value in call.literals:
                    if key in ("learning_rate", "lr") and isinstance(value, float):
                        found.setdefault("learning_rate", value)
    return found


PROFILE = KerasProfile()
