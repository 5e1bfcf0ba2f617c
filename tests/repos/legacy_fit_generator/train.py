import numpy as np
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense


def batches():
    while True:
        yield np.zeros((4, 3)), np.zeros((4, 1))


model = Sequential([Dense(1)])
model.compile(loss="mse", optimizer="adam")
model.fit_generator(batches(), steps_per_epoch=2, epochs=1)
model.evaluate_generator(batches(), steps=1)
