#!/usr/bin/env bash
# Installs admodes and what it needs on a fresh machine: the Python package with its test
# extra, and Graphviz's `dot` program (a system package) used to render computation graphs.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v dot >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    if command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Graphviz (dot) with apt-get"
        $SUDO apt-get update -qq && $SUDO apt-get install -y -qq graphviz >/dev/null
    else
        echo "setup: no apt-get here; install Graphviz's 'dot' with your package manager" >&2
    fi
fi
python3 -m pip install -q -e ".[test]"
echo "setup: done"
