from keras import optimizers
from keras.models import Sequential
from keras.layers.core import Dense

model = Sequential()
model.add(Dense(1, input_dim=2))
model.compile(optimizer=optimizers.Adam(lr=0.001), loss="mse")
model.fit([[1, 2]], [[3]], epochs=1)
