from sklearn.neighbors import KNeighborsClassifier
from sklearn.datasets import load_iris

K = 3
KNeighborsClassifier(n_neighbors=K).fit(*load_iris(return_X_y=True))
