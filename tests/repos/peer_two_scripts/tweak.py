# rewrites input.txt with the next values to try; trains nothing itself
with open("input.txt") as fh:
    epochs, units = (int(line) for line in fh.read().split())

with open("input.txt", "w") as fh:
    fh.write(f"{epochs + 1}\n{units * 2}\n")
