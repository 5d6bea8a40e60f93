# Sourced by scripts/serve and scripts/test: make ./.venv with atdesk installed, once per
# change of pyproject.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "atdesk needs Python 3.11 or newer; install it (python.org, brew, apt) and retry" >&2
  exit 1
}

ensure_venv() {  # $1: the extras to install, e.g. "" or "[test]"
  local extras="$1"
  local stamp=".venv/.atdesk-installed${extras}"
  if [ ! -x .venv/bin/python ]; then
    "$(pick_python)" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] ||
    [ sdk/python/pyproject.toml -nt "$stamp" ]; then
    echo "installing atdesk${extras} and atdesk-sdk into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${extras}"
    # The Python SDK is its own distribution; the suite tests it, `serve --demo` points to it.
    .venv/bin/python -m pip install --quiet -e sdk/python
    touch "$stamp"
  fi
}
