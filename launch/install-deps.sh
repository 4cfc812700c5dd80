#!/usr/bin/env bash
# Installs every Debian package read needs. Idempotent: quick when all is
# there. As root it installs; otherwise it prints the exact command to run.
set -euo pipefail

PACKAGES=(
  cmake g++ ccache pkg-config
  libtorch-dev libopenblas0-pthread
  libopenmpi-dev openmpi-bin
  liblmdb-dev libyaml-cpp-dev libgoogle-glog-dev libgflags-dev
  libturbojpeg0-dev libpng-dev libsentencepiece-dev sentencepiece
  nlohmann-json3-dev libgtest-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}"
  echo "run as root:  sudo apt-get update && sudo $cmd"
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$cmd || { apt-get update && $cmd; }
