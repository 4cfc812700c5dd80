#!/usr/bin/env bash
# The test command: installs missing dependencies, configures, builds and
# runs every test with ctest. Then, unless READ_SKIP_SANITIZE=1, builds the
# untrusted-input parsers under AddressSanitizer + UBSan and runs their tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${READ_BUILD_DIR:-$root/build}"
jobs="${READ_JOBS:-$(nproc)}"
start=$(date +%s)

READ_BUILD_DIR="$build" "$root/launch/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
(cd "$build" && ctest --output-on-failure -j "$jobs" "$@")

if [ "${READ_SKIP_SANITIZE:-0}" != "1" ]; then
  san="$build-sanitize"
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  cmake -S "$root" -B "$san" -DCMAKE_BUILD_TYPE=Debug -DREAD_SANITIZE=ON >/dev/null
  targets=$(cd "$build" && ctest -N -L sanitize | awk '/Test +#/ {print $3}')
  if [ -n "$targets" ]; then
    cmake --build "$san" -j "$jobs" --target $targets
    (cd "$san" && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -L sanitize)
  fi
fi
echo "test.sh: all tests passed in $(( $(date +%s) - start ))s"
