from sklearn.ensemble import RandomForestClassifier
from sklearn.datasets import load_digits

X, y = load_digits(return_X_y=True)
RandomForestClassifier(n_estimators=10).fit(X, y)
