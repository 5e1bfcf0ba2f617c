# validation_steps larger than the validation data: Keras runs out of validation data after
# the first epoch, so later epochs would have no val_accuracy.
import keras
import tensorflow as tf
from sklearn.datasets import load_digits

EPOCHS = 3

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
train = tf.data.Dataset.from_tensor_slices((x[:1400], y[:1400])).shuffle(1400, seed=0).batch(32)
val = tf.data.Dataset.from_tensor_slices((x[1400:], y[1400:])).batch(32)
model = keras.Sequential([
    keras.Input(shape=(64,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, epochs=EPOCHS, validation_data=val, validation_steps=800, verbose=2)
