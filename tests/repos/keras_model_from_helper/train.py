from sklearn.linear_model import LogisticRegression
from nets import build_model
import numpy as np

x, y = np.zeros((4, 2)), np.zeros(4)
LogisticRegression().fit(x, y)  # a baseline to beat
model = build_model()
model.fit(x, y, epochs=3)
