"""``python -m trainchain.agent <entrypoint> [args...]``: run a training script under the agent."""

import sys

from trainchain.agent.runner import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
