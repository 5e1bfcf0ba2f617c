"""What the detector knows about frameworks: qualified names, layer families, Keras 2-only APIs.

Names are matched after ``normalize`` has folded the spellings of one API into one
(``tensorflow.keras.layers.Dense`` and ``tf.keras.layers.Dense`` both become
``keras.layers.Dense``), so every table below lists a name once.
"""

from __future__ import annotations

import re

# prefix -> canonical prefix; the longest match wins
_ALIASES = (
    ("tensorflow.python.keras", "keras"),
    ("tensorflow.keras", "keras"),
    ("tensorflow._api.v2.keras", "keras"),
    ("keras.api", "keras"),
    ("pytorch_lightning", "lightning.pytorch"),
    ("lightning.pytorch", "lightning.pytorch"),
)


def normalize(qualname: str) -> str:
    """Fold alternative spellings of an API into one (``tensorflow.keras.X`` -> ``keras.X``)."""
    for prefix, canon in _ALIASES:
        if qualname == prefix or qualname.startswith(prefix + "."):
            return canon + qualname[len(prefix) :]
    return qualname


def framework_of(qualname: str) -> str | None:
    """The framework a normalized qualified name belongs to, or None."""
    top = qualname.split(".", 1)[0]
    return _TOP_FRAMEWORK.get(top)


_TOP_FRAMEWORK = {
    "keras": "keras",
    "keras_preprocessing": "keras",
    "tensorflow": "keras",  # low-level TensorFlow runs in the Keras profiles' environment
    "torch": "pytorch",
    "torchvision": "pytorch",
    "lightning": "pytorch",
    "transformers": "pytorch",
    "sklearn": "sklearn",
    "xgboost": "sklearn",
    "lightgbm": "sklearn",
    "catboost": "sklearn",
}

# --- Keras ------------------------------------------------------------------------------------

KERAS_MODEL_CLASSES = {
    "keras.Sequential",
    "keras.models.Sequential",
    "keras.Model",
    "keras.models.Model",
}
KERAS_SEQUENTIAL = {"keras.Sequential", "keras.models.Sequential"}


def keras_layer(qualname: str) -> str | None:
    """``keras.layers.Conv2D`` (or ``keras.layers.convolutional.Conv2D``) -> ``Conv2D``."""
    if qualname.startswith("keras.layers."):
        name = qualname.rsplit(".", 1)[1]
        return name if name[:1].isupper() else None
    return None


def is_keras_application(qualname: str) -> bool:
    return qualname.startswith("keras.applications.") and qualname.rsplit(".", 1)[1][:1].isupper()


# Keras 2-only APIs: symbol -> why (exact normalized names, method names or module prefixes)
LEGACY_METHODS = {
    "fit_generator": "Model.fit_generator was removed in Keras 3 (use fit)",
    "evaluate_generator": "Model.evaluate_generator was removed in Keras 3 (use evaluate)",
    "predict_generator": "Model.predict_generator was removed in Keras 3 (use predict)",
    "predict_classes": "Sequential.predict_classes exists only in old Keras 2",
}
LEGACY_MODULES = {
    "keras_preprocessing": "the Keras-Preprocessing package is Keras 2 only",
    "keras.layers.convolutional": "keras.layers.convolutional is a Keras 2 module path",
    "keras.layers.core": "keras.layers.core is a Keras 2 module path",
    "keras.layers.recurrent": "keras.layers.recurrent is a Keras 2 module path",
    "keras.layers.pooling": "keras.layers.pooling is a Keras 2 module path",
    "keras.utils.np_utils": "keras.utils.np_utils is a Keras 2 module path",
    "keras.wrappers": "keras.wrappers (scikit-learn wrappers) was removed in Keras 3",
}
LEGACY_NAMES = {
    "ImageDataGenerator": "ImageDataGenerator was removed in Keras 3",
    "Convolution2D": "Convolution2D is the Keras 1/2 alias of Conv2D, gone in Keras 3",
    "Convolution1D": "Convolution1D is the Keras 1/2 alias of Conv1D, gone in Keras 3",
    "Convolution3D": "Convolution3D is the Keras 1/2 alias of Conv3D, gone in Keras 3",
}
KERAS_OPTIMIZERS = {
    "Adam",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "Ftrl",
    "AdamW",
    "Lion",
}

# --- PyTorch ----------------------------------------------------------------------------------

TORCH_MODULE_BASES = {
    "torch.nn.Module",
    "lightning.pytorch.LightningModule",
    "lightning.LightningModule",
}
TORCH_TRAINERS = {"lightning.pytorch.Trainer", "lightning.Trainer", "transformers.Trainer"}


def torch_layer(qualname: str) -> str | None:
    if qualname.startswith("torch.nn.") and qualname.count(".") == 2:
        name = qualname.rsplit(".", 1)[1]
        return name if name[:1].isupper() else None
    return None


# --- scikit-learn and friends -----------------------------------------------------------------

_SKLEARN_MODEL_MODULES = (
    "ensemble",
    "linear_model",
    "svm",
    "tree",
    "neighbors",
    "naive_bayes",
    "neural_network",
    "discriminant_analysis",
    "gaussian_process",
    "kernel_ridge",
    "cluster",
    "mixture",
    "semi_supervised",
)


def sklearn_estimator(qualname: str) -> str | None:
    """The estimator class name when ``qualname`` constructs a model (not a transformer)."""
    parts = qualname.split(".")
    name = parts[-1]
    if not name[:1].isupper():
        return None
    if parts[0] == "sklearn" and len(parts) >= 3 and parts[1] in _SKLEARN_MODEL_MODULES:
        return name
    if parts[0] in ("xgboost", "lightgbm", "catboost") and re.match(
        r"^(XGB|LGBM|CatBoost)\w*(Classifier|Regressor|Ranker)$", name
    ):
        return name
    return None


# --- model families ---------------------------------------------------------------------------

_FAMILY_PATTERNS = (
    (
        "transformer",
        re.compile(
            r"MultiHeadAttention|MultiheadAttention|Transformer|Attention"
            r"|^Bert|^GPT|^AutoModel"
        ),
    ),
    ("rnn", re.compile(r"LSTM|GRU|RNN|Bidirectional")),
    (
        "cnn",
        re.compile(
            r"^Conv|Convolution|Pool|^SeparableConv|^DepthwiseConv|ResNet|VGG|"
            r"MobileNet|EfficientNet|Inception|Xception|DenseNet"
        ),
    ),
    ("tree", re.compile(r"Forest|Tree|Boost|XGB|LGBM|CatBoost")),
    ("svm", re.compile(r"^SVC$|^SVR$|^LinearSVC$|^LinearSVR$|^NuSV[CR]$|OneClassSVM")),
    (
        "linear",
        re.compile(
            r"Regression$|^Ridge|^Lasso|^ElasticNet|^SGD|^Perceptron|"
            r"PassiveAggressive|^Lars|^Bayesian"
        ),
    ),
    ("mlp", re.compile(r"^Dense$|^Linear$|^MLP")),
)
FAMILY_ORDER = ("transformer", "rnn", "cnn", "mlp", "tree", "svm", "linear", "other")


def family_of(class_name: str) -> str | None:
    for family, pattern in _FAMILY_PATTERNS:
        if pattern.search(class_name):
            return family
    return None


def pick_family(class_names: list[str]) -> str:
    """The dominant family of the layers/estimators built (transformer > rnn > cnn > mlp)."""
    found = {f for f in (family_of(n) for n in class_names) if f}
    for family in FAMILY_ORDER:
        if family in found:
            return family
    return "other"
