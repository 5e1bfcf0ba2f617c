"""``python -m trainchain`` = the ``trainchain`` command."""

from trainchain.cli import main

main()
