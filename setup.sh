#!/usr/bin/env bash
# Installs admodes on a fresh machine: a virtual environment in .venv (so it works where the
# system Python refuses `pip install`, PEP 668's "externally-managed-environment" on Debian
# and Ubuntu), the package with its test extra inside it, and Graphviz's `dot` program (a
# system package) used to draw computation graphs. It says what it is doing as it goes.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
say() { echo "setup: $*"; }

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
apt_install() {  # apt_install PACKAGE WHY
    if command -v apt-get >/dev/null 2>&1; then
        say "installing $1 with apt-get ($2)"
        $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "$1" >/dev/null
    else
        say "no apt-get here: install $1 with your package manager ($2)" >&2
        return 1
    fi
}

if ! command -v dot >/dev/null 2>&1; then
    apt_install graphviz "Graphviz's dot draws the computation graphs" || true
fi

if [ ! -x .venv/bin/python ]; then
    say "creating a virtual environment in .venv with $($PYTHON --version 2>&1)"
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        # Debian and Ubuntu ship the venv module apart from Python
        apt_install python3-venv "Python's venv module" || {
            say "cannot create a virtual environment: install Python's venv module" >&2
            exit 1
        }
        "$PYTHON" -m venv .venv
    fi
fi

say "installing admodes and its dependencies (numpy, pandas, matplotlib, scikit-learn, ...)"
say "into .venv; the first time this downloads them and takes a minute or two"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# pip's own lines for each package as it comes (live), its full output kept for an error
set +o pipefail
.venv/bin/python -m pip install --disable-pip-version-check --progress-bar off \
    -e ".[test]" 2>&1 | tee "$log" \
    | grep --line-buffered -E "^(Collecting|Successfully installed)" | sed -u 's/^/  /'
status="${PIPESTATUS[0]}"
set -o pipefail
if [ "$status" != 0 ]; then
    tail -n 30 "$log" >&2
    say "pip failed (exit status $status); its last lines are above" >&2
    exit 1
fi
say "done. Run .venv/bin/admodes, or activate the environment first:"
say "    source .venv/bin/activate && admodes"
