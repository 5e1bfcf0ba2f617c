# Trains, then loads a model file the script never saved: the failure comes after fit().
import keras
from sklearn.datasets import load_digits

EPOCHS = 3

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
model = keras.Sequential([
    keras.Input(shape=(64,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x[:1400], y[:1400], epochs=EPOCHS, batch_size=32, verbose=2,
          validation_data=(x[1400:], y[1400:]))

best = keras.models.load_model("best_model.keras")  # never saved
print("test_accuracy:", best.evaluate(x[1400:], y[1400:], verbose=0)[1])
