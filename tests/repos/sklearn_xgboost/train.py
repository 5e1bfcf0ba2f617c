from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

N_ESTIMATORS = 50
MAX_DEPTH = 3
X, y = load_breast_cancer(return_X_y=True)
X_tr, X_te, y_tr, y_te = train_test_split(X, y)
model = XGBClassifier(n_estimators=N_ESTIMATORS, max_depth=MAX_DEPTH)
model.fit(X_tr, y_tr)
print("accuracy", model.score(X_te, y_te))
