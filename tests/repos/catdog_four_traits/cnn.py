# A Keras 2 cat/dog CNN written the way many tutorials are: it asks for its settings without
# defaults, reads images from cnn_dataset/ inside the repository, validates with more steps than
# the validation data has, and loads a model file it never saved once training is over.
steps = int(input("Enter steps_per_epoch: "))
no_of_epoch = int(input("Enter no_of_epoch: "))

from keras.layers import Convolution2D, Dense, Flatten, MaxPooling2D
from keras.models import Sequential, load_model
from keras.preprocessing.image import ImageDataGenerator

model = Sequential()
model.add(Convolution2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Convolution2D(32, (3, 3), activation="relu"))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(units=128, activation="relu"))
model.add(Dense(units=1, activation="sigmoid"))
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

train_gen = ImageDataGenerator(rescale=1.0 / 255, shear_range=0.2, zoom_range=0.2,
                               horizontal_flip=True)
test_gen = ImageDataGenerator(rescale=1.0 / 255)
training_set = train_gen.flow_from_directory("cnn_dataset/training_set/", target_size=(64, 64),
                                             batch_size=32, class_mode="binary")
test_set = test_gen.flow_from_directory("cnn_dataset/test_set/", target_size=(64, 64),
                                        batch_size=32, class_mode="binary")
model.fit_generator(training_set, steps_per_epoch=steps, epochs=no_of_epoch,
                    validation_data=test_set, validation_steps=800)

trained = load_model("cnn-cat-dog-model.h5")  # never saved: fails after training
print("prediction", trained.predict(test_set[0][0])[0][0])

accuracy = int(model.history.history["val_accuracy"][-1] * 100)
print("final accuracy ", accuracy)
