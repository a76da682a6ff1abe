#!/usr/bin/env bash
# Install the Debian packages sohoa needs, only those missing (fast when all are there).
set -euo pipefail
PKGS=(tesseract-ocr tesseract-ocr-vie tesseract-ocr-osd poppler-utils fonts-dejavu-core python3-venv chromium)  # chromium: tests/web
case "${1:-}" in
  --services) PKGS+=(redis-server rabbitmq-server postgresql) ;;
  --bench) PKGS+=(ghostscript) ;;  # OCRmyPDF, the speed benchmark's yardstick, needs it
esac
missing=()
for p in "${PKGS[@]}"; do
  # python3-venv is moot where python3 already makes venvs (e.g. pyenv builds).
  if [[ "$p" == python3-venv ]] && python3 -c "import ensurepip, venv" 2>/dev/null; then continue; fi
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
