import numpy as np
import tensorflow as tf

EPOCHS = 3
UNITS = 64
LEARNING_RATE = 0.001
DATA_PATH = "data/train.csv"
TITLE = "an unrelated banner string that is long and has spaces"

x = np.random.rand(100, 8)
y = np.random.randint(0, 2, 100)
model = tf.keras.Sequential([
    tf.keras.layers.Dense(UNITS, activation="relu"),
    tf.keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss="binary_crossentropy")
print(TITLE, DATA_PATH)
model.fit(x, y, epochs=EPOCHS, batch_size=16)
