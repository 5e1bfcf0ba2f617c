import sys

from tensorflow import keras

# hyperparameters come from a file the author kept at /root/input.txt
sys.stdin = open("/root/input.txt")
epochs = int(input())
units = int(input())

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = keras.Sequential([
    keras.layers.Flatten(input_shape=(28, 28)),
    keras.layers.Dense(units, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=epochs, validation_data=(x_test, y_test))
print("accuracy", model.evaluate(x_test, y_test)[1])
