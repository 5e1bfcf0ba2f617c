"""A tiny OpenML dataset laid out as ``TRAINCHAIN_DATASETS_MIRROR`` serves scikit-learn's
``fetch_openml`` downloads (``<mirror>/sklearn/www.openml.org/<path>``): its description,
features, qualities and ARFF file. The description carries the file's md5, which scikit-learn
checks, so a test can serve its own data to the real library (the other ``fetch_*`` check a
sha256 built into scikit-learn, of files that cannot be downloaded here)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

DATA_ID, FILE_ID = 4242, 424242
ROWS, FEATURES = 300, 4
# the JSON answers scikit-learn asks for, and the data file, as served paths
PATHS = (
    f"/sklearn/www.openml.org/api/v1/json/data/{DATA_ID}",
    f"/sklearn/www.openml.org/api/v1/json/data/features/{DATA_ID}",
    f"/sklearn/www.openml.org/api/v1/json/data/qualities/{DATA_ID}",
    f"/sklearn/www.openml.org/data/v1/download/{FILE_ID}/tiny-bands.arff",
)


def write(mirror: Path) -> None:
    """Two learnable classes (the label is the sign of the first feature's band)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(ROWS, FEATURES))
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).astype(int)
    names = [f"f{i}" for i in range(FEATURES)]
    lines = ["@RELATION tiny-bands", ""]
    lines += [f"@ATTRIBUTE {n} NUMERIC" for n in names] + ["@ATTRIBUTE class {0,1}", "", "@DATA"]
    rows = zip(x, y, strict=True)
    lines += [",".join(f"{v:.5f}" for v in row) + f",{label}" for row, label in rows]
    arff = ("\n".join(lines) + "\n").encode()
    features = [_feature(i, n, "numeric", target=False) for i, n in enumerate(names)] + [
        _feature(FEATURES, "class", "nominal", target=True)
    ]
    answers = {
        PATHS[0]: {
            "data_set_description": {
                "id": str(DATA_ID),
                "name": "tiny-bands",
                "version": "1",
                "status": "active",
                "format": "ARFF",
                "file_id": str(FILE_ID),
                "description": "Two bands, for trainchain's tests.",
                "url": f"https://www.openml.org/data/v1/download/{FILE_ID}/tiny-bands.arff",
                "md5_checksum": hashlib.md5(arff, usedforsecurity=False).hexdigest(),
                "default_target_attribute": "class",
            }
        },
        PATHS[1]: {"data_features": {"feature": features}},
        PATHS[2]: {
            "data_qualities": {"quality": [{"name": "NumberOfInstances", "value": f"{ROWS}.0"}]}
        },
    }
    for path, answer in answers.items():
        target = mirror / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(answer))
    data = mirror / PATHS[3].lstrip("/")
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_bytes(arff)


def _feature(index: int, name: str, kind: str, target: bool) -> dict[str, object]:
    feature: dict[str, object] = {
        "index": str(index),
        "name": name,
        "data_type": kind,
        "is_target": "true" if target else "false",
        "is_ignore": "false",
        "is_row_identifier": "false",
        "number_of_missing_values": "0",
    }
    if kind == "nominal":
        feature["nominal_value"] = ["0", "1"]
    return feature
