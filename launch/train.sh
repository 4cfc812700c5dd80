#!/usr/bin/env bash
# Launches read_trainer on this machine or across machines with Open MPI.
#
#   launch/train.sh -np 8 configs/read7b.yaml                    # one host
#   launch/train.sh -np 16 --hostfile hosts configs/read13b.yaml  # several hosts
#   launch/train.sh -np 8 configs/read7b.yaml --set train.epochs=10
#
# One rank per GPU (CUDA build: each rank takes GPU local_rank and the
# communicator is NCCL; CPU build: MPI). Extra arguments after the config go
# to read_trainer. Environment: READ_BUILD_DIR (default build/),
# READ_MPIRUN_ARGS (extra mpirun options, e.g. "-x NCCL_SOCKET_IFNAME=eth0").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${READ_BUILD_DIR:-$root/build}"
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
mpi_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage 0 ;;
    -np|--hostfile|-H|--host) mpi_args+=("$1" "$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
config="$1"; shift
[ -f "$config" ] || { echo "train.sh: no config file $config" >&2; exit 2; }
[ -x "$build/read_trainer" ] || { echo "train.sh: $build/read_trainer not built (launch/build.sh)" >&2; exit 2; }
if [ "$(id -u)" = 0 ]; then mpi_args+=(--allow-run-as-root); fi
# Every rank gets the launching shell's thread, NCCL and library settings.
for v in OMP_NUM_THREADS NCCL_DEBUG NCCL_SOCKET_IFNAME LD_LIBRARY_PATH READ_FIXTURES; do
  if [ -n "${!v:-}" ]; then mpi_args+=(-x "$v"); fi
done
# shellcheck disable=SC2086  # READ_MPIRUN_ARGS is a list of options
exec mpirun "${mpi_args[@]}" ${READ_MPIRUN_ARGS:-} "$build/read_trainer" "$config" "$@"
