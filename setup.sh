#!/usr/bin/env bash
# One-command setup on a fresh machine: a virtual environment in .venv with every dependency pinned
# through constraints.txt (torch==2.13.0: the CPU wheel here, the CUDA build on a CUDA machine; nothing can
# pull a newer torch), Java check (METEOR, PTB tokenizer), Chromium for the leaderboard browser tests,
# and the embedded default dataset.
#
#   bash setup.sh                 # everything
#   RRGBENCH_SKIP_DATA=1 bash setup.sh     # skip preparing the embedded dataset
#   RRGBENCH_SKIP_BROWSER=1 bash setup.sh  # skip installing Chromium
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"rrgbench needs Python >= 3.10, found {sys.version.split()[0]}")
PY

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
echo "==> installing torch (pinned) and rrgbench with all extras"
$PIP install -q -c constraints.txt "torch==2.13.0"
$PIP install -q -c constraints.txt -e ".[clinical,cluster,dev]"

echo "==> checking Java (needed by METEOR and the PTB tokenizer)"
if command -v java >/dev/null 2>&1; then
  java -version 2>&1 | head -1
else
  echo "WARNING: java not found. METEOR and the PTB tokenizer need a Java runtime (>= 8)."
  echo "         Debian/Ubuntu: sudo apt-get install -y default-jre-headless   macOS: brew install openjdk"
fi

if [ -z "${RRGBENCH_SKIP_BROWSER:-}" ] && ! command -v chromium >/dev/null 2>&1 \
   && ! command -v chromium-browser >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Chromium (leaderboard browser tests)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "WARNING: could not install chromium; browser tests will be skipped"
  else
    echo "NOTE: no Chromium found; the leaderboard browser test will be skipped (apt-get install chromium)"
  fi
fi

if [ -z "${RRGBENCH_SKIP_DATA:-}" ]; then
  echo "==> preparing the embedded default dataset (iu_xray_phantom)"
  "$VENV/bin/rrgbench" data prepare iu_xray_phantom || {
    echo "WARNING: could not prepare iu_xray_phantom (it is prepared again on first use)"; }
fi
echo "==> done. Activate with: source $VENV/bin/activate"
