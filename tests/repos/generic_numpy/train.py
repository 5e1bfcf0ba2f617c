import numpy as np

STEPS = 100
LEARNING_RATE = 0.05


class LinearModel:
    def __init__(self) -> None:
        self.w = np.zeros(3)

    def fit(self, x, y, steps: int, lr: float) -> None:
        for _ in range(steps):
            self.w -= lr * 2 * x.T @ (x @ self.w - y) / len(y)


x = np.random.rand(50, 3)
LinearModel().fit(x, x @ np.array([1.0, 2.0, 3.0]), STEPS, LEARNING_RATE)
