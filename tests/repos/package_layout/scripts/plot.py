import matplotlib.pyplot as plt

if __name__ == "__main__":
    plt.plot([1, 2, 3])
    plt.show()
