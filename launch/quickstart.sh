#!/usr/bin/env bash
# The embedded default, from a fresh clone: installs dependencies, builds,
# generates the synthetic shapes datasets in their real raw layouts, trains a
# tokenizer on their text, packs them with read_pack, and trains
# configs/tiny.yaml from random initialisation on 2 MPI ranks, printing the
# validation gIoU before and after training.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${READ_BUILD_DIR:-$root/build}"
run=runs/quickstart
ranks="${READ_RANKS:-2}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# Only the three programs the job runs (launch/test.sh builds the rest).
READ_BUILD_DIR="$build" READ_TARGETS="read_synth read_pack read_trainer" launch/build.sh
if [ ! -f "$run/raw/.complete" ]; then
  rm -rf "$run/raw" "$run/tokenizer" "$run/packed"
  "$build/read_synth" --out "$run/raw" --train_images "${READ_SYNTH_IMAGES:-1500}" --val_images 100 \
      --tokenizer_out "$run/tokenizer"
  touch "$run/raw/.complete"
fi
"$build/read_pack" all --root "$run/raw" --out "$run/packed" --overwrite
mpirun -np "$ranks" --oversubscribe "$build/read_trainer" configs/tiny.yaml "$@"
