"""Cat or dog? The original cat/dog CNN, in Keras 3.

Expects the images in cnn_dataset/training_set/{cats,dogs}/ and cnn_dataset/test_set/{cats,dogs}/
(relative to the working directory) and asks for the number of epochs, like the original.
Run: python train.py   (or: echo 5 | python train.py)
"""

import os

import keras

IMAGE_SIZE = (64, 64)
BATCH_SIZE = 32
# Set e.g. MAX_IMAGES_PER_CLASS = 200 to try the script quickly on a fixed random subset.
MAX_IMAGES_PER_CLASS = None

no_of_epoch = int(input("Enter no_of_epoch:"))


def load_images(directory):
    """The images of directory/{cats,dogs} as batches of (image, label); cats=0, dogs=1."""
    options = dict(image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, label_mode="binary", seed=0)
    if MAX_IMAGES_PER_CLASS:
        total = sum(len(os.listdir(os.path.join(directory, c))) for c in ("cats", "dogs"))
        keep = 2 * MAX_IMAGES_PER_CLASS / total
        if keep < 1:
            # Keras shuffles the file list with the seed, then keeps the "training" part of the
            # split: the same random images every epoch, both classes drawn evenly.
            options.update(validation_split=1 - keep, subset="training")
    return keras.utils.image_dataset_from_directory(directory, **options)


training_set = load_images("cnn_dataset/training_set")
test_set = load_images("cnn_dataset/test_set")

model = keras.Sequential(
    [
        keras.Input(shape=(*IMAGE_SIZE, 3)),
        keras.layers.Rescaling(1.0 / 255),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

history = model.fit(training_set, epochs=no_of_epoch, validation_data=test_set, verbose=2)

accuracy = int(history.history["val_accuracy"][-1] * 100)
print("final accuracy ", accuracy)
