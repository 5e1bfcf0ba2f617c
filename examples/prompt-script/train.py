"""The digits CNN, asking for its settings at the keyboard like the original seed script.

Run: python train.py  and answer the two prompts (e.g. 5 and 0.001), or
     printf '5\n0.001\n' | python train.py
"""

import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

no_of_epoch = int(input("Enter no_of_epoch:"))
learning_rate = float(input("Enter learning rate:"))

digits = load_digits()
x = (digits.images / 16.0).astype("float32").reshape(-1, 8, 8, 1)
x_train, x_test, y_train, y_test = train_test_split(
    x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
)

model = keras.Sequential(
    [
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(16, (3, 3), activation="relu", padding="same"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(
    x_train, y_train, epochs=no_of_epoch, batch_size=32, validation_data=(x_test, y_test), verbose=2
)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"test_accuracy: {acc:.4f}")
