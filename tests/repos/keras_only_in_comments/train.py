# TODO: port this to keras (import keras) once the data is bigger
"""A keras.Sequential would be nicer; tensorflow.keras.layers.Dense too."""
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

NOTE = "keras.Sequential"
C = 1.0
X, y = load_iris(return_X_y=True)
clf = LogisticRegression(C=C, max_iter=200)
clf.fit(X, y)
print("keras is not used here", clf.score(X, y))
