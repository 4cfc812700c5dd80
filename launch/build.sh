#!/usr/bin/env bash
# Configures and builds read into build/ (or $READ_BUILD_DIR). Extra
# arguments are passed to cmake at configure time; READ_TARGETS="a b" builds
# only those targets (default: everything, tests and benchmarks included).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${READ_BUILD_DIR:-$root/build}"
jobs="${READ_JOBS:-$(nproc)}"
"$root/launch/install-deps.sh"
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
# The precompiled header is only cacheable with these (ccache manual, "Precompiled headers").
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# shellcheck disable=SC2086  # READ_TARGETS is a list
cmake --build "$build" -j "$jobs" ${READ_TARGETS:+--target $READ_TARGETS}
