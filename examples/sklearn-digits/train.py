"""A random forest on the scikit-learn digits (8x8 grey images, 10 classes).

Run: python train.py  -- prints the held-out accuracy.
The forest below is deliberately too small (2 trees of depth 2: 0.44 accuracy), so there is
something to tune; N_ESTIMATORS = 100 with MAX_DEPTH = None gets 0.98.
"""

import time

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

N_ESTIMATORS = 2
MAX_DEPTH = 2
MIN_SAMPLES_LEAF = 1
MAX_FEATURES = "sqrt"


def main():
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    model = RandomForestClassifier(
        n_estimators=N_ESTIMATORS,
        max_depth=MAX_DEPTH,
        min_samples_leaf=MIN_SAMPLES_LEAF,
        max_features=MAX_FEATURES,
        random_state=0,
    )
    start = time.time()
    model.fit(x_train, y_train)
    print(f"training took {time.time() - start:.2f} s")
    accuracy = model.score(x_test, y_test)
    print(f"accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
