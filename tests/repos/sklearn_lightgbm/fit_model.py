import lightgbm as lgb
from sklearn.datasets import load_digits

NUM_LEAVES = 15
X, y = load_digits(return_X_y=True)
clf = lgb.LGBMClassifier(num_leaves=NUM_LEAVES)
clf.fit(X, y)
