import os

import numpy as np
import pandas as pd
import tensorflow_datasets as tfds
import torch
from sklearn.datasets import fetch_openml
from sklearn.linear_model import LogisticRegression
from torchvision import datasets

DATA = "inputs"
FEATURES = os.path.join(DATA, "features.npy")

frame = pd.read_csv(DATA + "/labels.csv")  # missing: a constant plus a literal
present = pd.read_csv("data/present.csv")  # in the repository: not reported
x = np.load(FEATURES)  # missing, through os.path.join of constants
images = datasets.ImageFolder(root="/data/pets/train")  # absolute, not in the repository
cifar = datasets.CIFAR10("torch_data", train=True, download=True)
mnist = tfds.load("mnist")
adult = fetch_openml("adult", version=2)
remote = pd.read_csv("https://example.org/table.csv")  # a URL: the library fetches it
with open("results/log.txt", "w") as out:  # written, not read
    out.write("start")
with open(f"runs/{os.getpid()}.txt") as fh:  # computed at run time: not guessed
    fh.read()
tensor = torch.zeros(3)
LogisticRegression().fit(x, frame["y"])
extra = np.loadtxt("inputs_partial/test_set/values.txt")  # the folder exists, the data not
