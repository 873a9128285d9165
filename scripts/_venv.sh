# Shared by scripts/test and scripts/demo: make .venv if missing and install rsspage into it.
# Usage: . scripts/_venv.sh [EXTRAS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
# Editable install: re-running is quick and picks up changes to pyproject.toml.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
