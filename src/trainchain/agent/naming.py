"""Names shared by the detector (controller side) and the agent (standard library only)."""

from __future__ import annotations

import re

# Reserved parameter names for the agent's Keras hooks; never clash with script names.
KERAS_KNOBS = (
    "keras.epochs",
    "keras.batch_size",
    "keras.learning_rate",
    "keras.width",  # multiplier on Conv/Dense units, never the output layer
    "keras.extra_conv_blocks",  # Conv+Pool blocks added before Flatten
    "keras.dropout",  # Dropout rate inserted before the output layer (0 = none)
    "keras.augment",  # none|flip|flip_rotate|flip_rotate_zoom layers in front (image inputs)
    "keras.batchnorm",  # BatchNormalization after every Conv layer
    "keras.optimizer",  # adam|sgd|rmsprop at compile, the learning rate kept
)

_LEAD = re.compile(
    r"^(please\s+)?(enter|input|type|give|provide|set|choose|specify)(\s+(the|a|an))?\s+", re.I
)
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def prompt_param_name(prompt: str) -> str:
    """The parameter name of an ``input()`` prompt.

    ``"Enter no_of_epoch:"`` -> ``"no_of_epoch"``; ``"Number of layers? "`` ->
    ``"number_of_layers"``. Detector and agent both call this, so they always agree.
    """
    text = _LEAD.sub("", prompt.strip())
    text = re.sub(r"\(.*?\)|\[.*?\]", " ", text)  # "(default 5)", "[1-10]"
    name = _NON_WORD.sub("_", text).strip("_").lower()
    return name or "prompt"
