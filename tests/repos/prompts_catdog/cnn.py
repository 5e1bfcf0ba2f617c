from keras.models import Sequential
from keras.layers import Conv2D, MaxPooling2D, Flatten, Dense
from keras.utils import image_dataset_from_directory

no_of_epoch = int(input("Enter no_of_epoch:"))
lr = float(input("Enter the learning rate: "))
name = input("Model name? ")
units = input("Enter units (default 128):")
units = int(units)

classifier = Sequential()
classifier.add(Conv2D(32, (3, 3), input_shape=(64, 64, 3), activation="relu"))
classifier.add(MaxPooling2D(pool_size=(2, 2)))
classifier.add(Flatten())
classifier.add(Dense(units=units, activation="relu"))
classifier.add(Dense(units=1, activation="sigmoid"))
classifier.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
train = image_dataset_from_directory("cnn_dataset/training_set", image_size=(64, 64))
classifier.fit(train, epochs=no_of_epoch)
classifier.save(name + ".keras")
