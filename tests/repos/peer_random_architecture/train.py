# Cat or dog, in the style of a peer implementation: the data directory is not in the
# repository, the architecture is drawn at random on every run, steps_per_epoch and
# validation_steps run past the data, and the result goes to a directory of the author's machine.
import random

from tensorflow import keras

EPOCHS = 2
IMAGE = 32

train = keras.utils.image_dataset_from_directory(
    "cnn_dataset/training_set/", image_size=(IMAGE, IMAGE), batch_size=32, label_mode="binary"
)
test = keras.utils.image_dataset_from_directory(
    "cnn_dataset/test_set/", image_size=(IMAGE, IMAGE), batch_size=32, label_mode="binary"
)

conv_layers = random.randint(1, 3)  # a different network on every run
units = random.choice([16, 32, 64, 128])
print("architecture:", conv_layers, "conv layers,", units, "units")
model = keras.Sequential([keras.Input(shape=(IMAGE, IMAGE, 3)), keras.layers.Rescaling(1 / 255)])
for _ in range(conv_layers):
    model.add(keras.layers.Conv2D(8, (3, 3), activation="relu", padding="same"))
    model.add(keras.layers.MaxPooling2D((2, 2)))
model.add(keras.layers.Flatten())
model.add(keras.layers.Dense(units, activation="relu"))
model.add(keras.layers.Dense(1, activation="sigmoid"))
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(train, steps_per_epoch=300, epochs=EPOCHS, validation_data=test,
                    validation_steps=80)

with open("/root/final/accuracy.txt", "w") as out:  # a directory of the author's machine
    out.write(str(history.history["val_accuracy"][-1]))
