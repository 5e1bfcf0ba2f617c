import argparse

from sklearn import datasets, svm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, default=1.0, help="regularisation")
    parser.add_argument("--kernel", choices=["linear", "rbf", "poly"], default="rbf")
    parser.add_argument("--max-iter", dest="max_iter", type=int, default=100)
    parser.add_argument("--shrinking", action="store_true")
    parser.add_argument("--data-dir", required=True)
    group = parser.add_argument_group("extra")
    group.add_argument("-g", "--gamma", type=float, default=0.01)
    args = parser.parse_args()
    X, y = datasets.load_digits(return_X_y=True)
    clf = svm.SVC(C=args.C, kernel=args.kernel, gamma=args.gamma, max_iter=args.max_iter)
    clf.fit(X, y)


if __name__ == "__main__":
    main()
