def report(x):
    print "accuracy", x
