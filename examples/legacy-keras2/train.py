# Cat or dog? A Keras 2-era CNN in the style of the original seed script.
# Needs TensorFlow 2.15 / Keras 2 (see requirements.txt): ImageDataGenerator, Convolution2D,
# fit_generator and Adam(lr=...) are gone from Keras 3.
# Images: cnn_dataset/training_set/{cats,dogs}/ and cnn_dataset/test_set/{cats,dogs}/

from keras.layers import Convolution2D, Dense, Flatten, MaxPooling2D
from keras.models import Sequential
from keras.optimizers import Adam
from keras.preprocessing.image import ImageDataGenerator

EPOCHS = 1
STEPS_PER_EPOCH = 250  # 8000 training images / batch 32; fewer for a quick try
VALIDATION_STEPS = 63  # 2000 test images / batch 32
LEARNING_RATE = 0.001

model = Sequential()
model.add(Convolution2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Convolution2D(32, (3, 3), activation="relu"))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(units=128, activation="relu"))
model.add(Dense(units=1, activation="sigmoid"))
model.compile(optimizer=Adam(lr=LEARNING_RATE), loss="binary_crossentropy", metrics=["accuracy"])

train_datagen = ImageDataGenerator(
    rescale=1.0 / 255, shear_range=0.2, zoom_range=0.2, horizontal_flip=True
)
test_datagen = ImageDataGenerator(rescale=1.0 / 255)
training_set = train_datagen.flow_from_directory(
    "cnn_dataset/training_set/", target_size=(64, 64), batch_size=32, class_mode="binary"
)
test_set = test_datagen.flow_from_directory(
    "cnn_dataset/test_set/", target_size=(64, 64), batch_size=32, class_mode="binary"
)

history = model.fit_generator(
    training_set,
    steps_per_epoch=STEPS_PER_EPOCH,
    epochs=EPOCHS,
    validation_data=test_set,
    validation_steps=VALIDATION_STEPS,
)

accuracy = int(history.history["val_accuracy"][-1] * 100)
print("final accuracy ", accuracy)
