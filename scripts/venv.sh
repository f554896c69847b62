#!/bin/sh
# Make .venv the project's locked environment: install only when the lock or pyproject.toml
# changed since the last install, so that `make -B map` never reinstalls anything.
#
# Usage: scripts/venv.sh run|test     (PYTHON and VENV may be set; defaults python3, .venv)
set -eu
kind=${1:?usage: scripts/venv.sh run|test}
lock="requirements/$kind.txt"
venv=${VENV:-.venv}
python=${PYTHON:-python3}
digest() {
    "$python" -c 'import hashlib, sys; h = hashlib.sha256()
for name in sys.argv[1:]:
    h.update(open(name, "rb").read())
print(h.hexdigest())' "$@"
}
want=$(digest "$lock" pyproject.toml)
stamp="$venv/.installed-$kind"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
echo "installing the locked environment ($lock) into $venv" >&2
# Every package at the version and with the hashes of the lock; nothing else is resolved.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    --no-deps -r "$lock"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "$want" > "$stamp"
# The test lock holds the run lock's pins and more: the run environment is installed too.
[ "$kind" = test ] && digest requirements/run.txt pyproject.toml > "$venv/.installed-run"
exit 0
