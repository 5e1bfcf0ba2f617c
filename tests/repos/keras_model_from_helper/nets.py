from tensorflow import keras


def build_model():
    m = keras.Sequential([keras.layers.Dense(1)])
    m.compile(loss="mse")
    return m
