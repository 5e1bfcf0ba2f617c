# Asks for steps_per_epoch and the epochs without defaults (a tutorial's habit).
steps = int(input("Enter steps_per_epoch: "))
no_of_epoch = int(input("Enter no_of_epoch: "))

import keras
import tensorflow as tf
from sklearn.datasets import load_digits

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
train = tf.data.Dataset.from_tensor_slices((x[:1400], y[:1400])).shuffle(1400, seed=0).batch(32)
model = keras.Sequential([
    keras.Input(shape=(64,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, steps_per_epoch=steps, epochs=no_of_epoch, verbose=2)
print("test_accuracy:", model.evaluate(x[1400:], y[1400:], verbose=0)[1])
