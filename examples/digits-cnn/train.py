"""A small CNN on the scikit-learn digits (8x8 grey images, 10 classes).

Run: python train.py  -- prints the test accuracy as the last line.
The defaults below are deliberately weak (a tiny learning rate for 3 epochs: ~0.3-0.7 test
accuracy), so there is something to tune: LEARNING_RATE = 1e-3 with EPOCHS = 10 gets ~0.96,
LEARNING_RATE = 1e-2 with EPOCHS = 20 ~0.98.
"""

import time

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

EPOCHS = 3
BATCH_SIZE = 32
LEARNING_RATE = 1e-4
FILTERS = 32
DENSE_UNITS = 64


def load_data():
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., np.newaxis]  # pixels are 0..16
    y = digits.target
    # 60% train, 20% validation, 20% test; fixed split so runs are comparable
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=0, stratify=y
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(FILTERS, (3, 3), activation="relu", padding="same"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(DENSE_UNITS, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_data()
    model = build_model()
    start = time.time()
    model.fit(
        x_train,
        y_train,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        validation_data=(x_val, y_val),
        verbose=2,
    )
    print(f"training took {time.time() - start:.1f} s for {EPOCHS} epochs")
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test_loss: {loss:.4f}")
    print(f"test_accuracy: {acc:.4f}")


if __name__ == "__main__":
    main()
