# Reads its data from a folder committed with the code (data/digits.csv, label last).
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

C = 1.0

table = np.loadtxt("data/digits.csv", delimiter=",")
x, y = table[:, :-1] / 16.0, table[:, -1].astype(int)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
model = LogisticRegression(C=C, max_iter=500).fit(x_train, y_train)
print(f"test_accuracy: {model.score(x_test, y_test):.4f}")
