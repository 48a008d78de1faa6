#!/usr/bin/env bash
# A dfad sweep's seed-0 tuning cells on a lent CUDA machine, with the code the record is pinned at:
#   scripts/gpu_grid.sh prepare [NAME]   # here: _dev/ (ignored) with what the machine needs
#   then, through the device tool, with carry ["_dev"]:
#   W=15 TRAIN_S=400 bash scripts/gpu_grid.sh run [NAME] [ORDER...]   # on the GPU machine
#   and here: python -m osgan sweep NAME --collect <the returned rec.tgz, unpacked>/NAME
# _dev/ holds: the pinned commit's osgan/ (git archive; the machine has no .git), the
# Fashion-MNIST IDX files (the machine has no Debian package), the frozen teacher in a cache of
# its own, the pinned worktree's record (the cells done are skipped) and clean-fid and submitit
# as wheels (the machine's image lacks them). On the machine, scripts/gpu_grid.py runs the cells
# not done, ORDER's substrings first, 15 at a time, float32 (TF32 off) with deterministic
# algorithms, and records a provenance session naming the GPU; then diagnoses the new cells'
# final networks (the checkpoints stay on the machine). What comes back: $OUT/rec.tgz (the
# record), $OUT/diagnose.json, logs.
set -u
what=${1:?usage: scripts/gpu_grid.sh prepare|run [NAME] [ORDER...]}; shift
name=${1:-table2_tune}; shift || true
declare -A PIN=([table2_tune]=7dfb6b7 [table2_dt]=541bbc3)  # as scripts/sweep_pinned.sh
commit=${PIN[$name]:-}
[ -n "$commit" ] || { echo "gpu_grid: no pinned dfad record $name (known: ${!PIN[*]})" >&2; exit 2; }
top=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
D=$top/_dev
case $what in
  prepare)
    set -e
    grep -qx "/_dev/" "$top/.git/info/exclude" 2>/dev/null || { mkdir -p "$top/.git/info"; echo "/_dev/" >> "$top/.git/info/exclude"; }
    rm -rf "$D" && mkdir -p "$D/pin" "$D/fmnist" "$D/cache/classifiers" "$D/rec" "$D/whl"
    git -C "$top" archive "$commit" osgan | tar x -C "$D/pin"
    git -C "$top" rev-parse "$commit" > "$D/pin/COMMIT"
    cp /usr/share/datasets/fashion-mnist/*.gz "$D/fmnist/"
    cp "$top"/osgan/instruments/teacher-*.pt "$D/cache/classifiers/"
    src=$(dirname "$top")/pinned-$name/results/$name
    [ -d "$src" ] || src=$top/results/$name
    cp -r "$src" "$D/rec/$name"
    (cd "$D/whl" && "$top/.venv/bin/python" -m pip download -q --no-deps --only-binary=:all: \
        clean-fid==0.1.35 submitit==1.5.4)
    cp "$top/scripts/gpu_grid.py" "$top/scripts/gpu_dfad_probe.py" "$D/"
    du -sh "$D" ;;
  run)
    OUT=${OUT:-/tmp/gpu-grid}; mkdir -p "$OUT"; T0=$(date +%s)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$D"/whl/*.whl
    mkdir -p /usr/share/datasets/fashion-mnist && cp "$D"/fmnist/* /usr/share/datasets/fashion-mnist/
    export PYTHONPATH=$D/pin:/tmp/site PYTHONUNBUFFERED=1 OSGAN_CACHE=$D/cache CUBLAS_WORKSPACE_CONFIG=:4096:8
    W=${W:-15}; TRAIN_S=${TRAIN_S:-400}
    { nvidia-smi -L; nproc; cd "$D" && python3 gpu_grid.py flags; } 2>&1 | tee "$OUT/env.txt"
    cd "$D"
    timeout -s INT "$TRAIN_S" python3 gpu_grid.py train "$name" "$D/rec/$name" "$W" "$@" > "$OUT/train.log" 2>&1
    echo "train rc $? after $(( $(date +%s) - T0 )) s"; grep -c "^finished" "$OUT/train.log"
    timeout 90 python3 gpu_grid.py diagnose "$D/rec/$name" "$W" "$OUT/diagnose.json" > "$OUT/diagnose.log" 2>&1
    echo "diagnose rc $? after $(( $(date +%s) - T0 )) s"
    tar czf "$OUT/rec.tgz" -C "$D/rec" "$name" ;;
  *) echo "gpu_grid: unknown step $what (prepare or run)" >&2; exit 2 ;;
esac
