import keras
from keras import layers

SEQ_UNITS = 32
inputs = keras.Input(shape=(20, 4))
h = layers.LSTM(SEQ_UNITS)(inputs)
outputs = layers.Dense(1)(h)
net = keras.Model(inputs, outputs)
net.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01), loss="mse")
net.fit(keras.random.normal((64, 20, 4)), keras.random.normal((64, 1)), epochs=2)
