from tensorflow import keras
from sklearn.ensemble import RandomForestClassifier

(x, y), _ = keras.datasets.mnist.load_data()
clf = RandomForestClassifier(n_estimators=20)
clf.fit(x[:500].reshape(500, -1), y[:500])
