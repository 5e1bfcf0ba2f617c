from sklearn.tree import DecisionTreeClassifier
from sklearn.datasets import load_iris

DecisionTreeClassifier().fit(*load_iris(return_X_y=True))
