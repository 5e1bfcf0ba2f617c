from tensorflow import keras
from tensorflow.keras import layers

filters = 16


def build():
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(filters, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])


if __name__ == "__main__":
    (x, y), _ = keras.datasets.mnist.load_data()
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:100], y[:100], epochs=1)
