import keras

model = keras.Sequential([keras.layers.Dense(1)]
model.fit([[1]], [[1]])
