import keras
from sklearn.datasets import load_digits

print("Enter no_of_epoch:")
epochs = int(input())
print("Number of units? ")
units = input()
units = int(units)
batch = int(input())

x, y = load_digits(return_X_y=True)
model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(units, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=epochs, batch_size=batch, validation_split=0.2)
