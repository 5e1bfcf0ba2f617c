from sklearn.linear_model import Ridge


def run() -> None:
    Ridge(alpha=0.5).fit([[0.0], [1.0]], [0.0, 1.0])


if __name__ == "__main__":
    run()
