#!/usr/bin/env bash
# Gradescope runs this once while building the autograder image (Ubuntu 22.04,
# system python3 3.10, run as root from the unpacked zip in /autograder/source).
# `course grade` runs it too, with AUTOGRADER_LOCAL=1: the local Python already
# has numpy, so nothing is installed system-wide.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${AUTOGRADER_PYTHON:-python3}"

if [ -z "${AUTOGRADER_LOCAL:-}" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-pip python3-dev build-essential
    # Namespaces for student code; where the package or the kernel is refused, the grader
    # falls back to a user switch and resource limits, and says so in its log.
    apt-get install -y --no-install-recommends bubblewrap \
        || echo "setup.sh: bubblewrap could not be installed; student code will run without namespaces"
    "$PYTHON" -m pip install --no-cache-dir "numpy>=1.26,<3" "cython>=3.0" "setuptools>=68"
fi

# Compile the Cython kernels of the fast layers for the stubs and the reference;
# without them course_lib falls back to its pure-NumPy path (slower, same results).
cd "$SOURCE"
"$PYTHON" -m autograder.harness.prepare "$SOURCE"

# The unprivileged user that runs student code (created when running as root, as
# Gradescope does), and the autograder's files out of its reach.
"$PYTHON" -m autograder.isolation setup "$SOURCE"
