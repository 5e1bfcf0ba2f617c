# The two commands the README starts with. Both work on a fresh machine (root for `test`).
.PHONY: demo test test-fast bench bench-quick lint

PYTHON ?= python3

demo:
	bash scripts/setup.sh demo
	trainchain run examples/digits-cnn

test:
	bash scripts/setup.sh test
	TRAINCHAIN_KERAS2_PYTHON=$${TRAINCHAIN_KERAS2_PYTHON:-/opt/trainchain-keras2/bin/python} \
	TRAINCHAIN_BASE_IMAGE=$${TRAINCHAIN_BASE_IMAGE:-trainchain/base:bookworm} \
	TRAINCHAIN_CA_CERTS=$${TRAINCHAIN_CA_CERTS:-/usr/local/share/ca-certificates} \
		$(PYTHON) -m pytest -q -p no:cacheprovider --durations=15 -m "not heavy" -rs

test-fast:
	$(PYTHON) -m pytest -q -m "not slow and not docker and not browser"

bench:
	bash scripts/setup.sh bench
	$(PYTHON) bench/run.py --full

bench-quick:
	$(PYTHON) bench/run.py --quick

lint:
	ruff check src tests
	ruff format --check src tests
	mypy src tests
