from sklearn.tree import DecisionTreeClassifier
DecisionTreeClassifier().fit([[0], [1]], [0, 1])
