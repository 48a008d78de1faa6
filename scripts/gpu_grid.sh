#!/usr/bin/env bash
# A recorded sweep's cells on a lent CUDA machine, with the code the record is pinned at: a dfad
# sweep's seed-0 tuning grid (table2_tune, table2_dt) or, once it is done (its chosen points'
# seed-0 runs at their plateau, on the CPU), its verdict's seeds, each cell on to its plateau;
# or Table 1's remaining pairs (table1).
#   scripts/gpu_grid.sh prepare NAME     # here: NAME's part of _dev/ (ignored; several sweeps
#                                        # can be prepared side by side: rm -rf _dev to start over)
#   then, through the device tool, with carry ["_dev"] (one call can run several in turn):
#   W=15 TRAIN_S=400 bash scripts/gpu_grid.sh run NAME [ORDER...]   # on the GPU machine
#   and here, $OUT/NAME.tgz unpacked into DIR (the CPU sweep of NAME stopped first):
#   scripts/gpu_grid.sh adopt NAME DIR   # into the record, and into the pinned worktree
# _dev/ holds: per sweep the pinned commit's osgan/ (git archive, in pin/NAME; the machine has
# no .git) and the pinned worktree's finished cells (rec/NAME, skipped there); shared, the
# Fashion-MNIST IDX files (the machine has no Debian package), the frozen instruments
# (teachers, domain classifier) in a cache of their own, and clean-fid and submitit as wheels
# (the machine's image lacks them). On the machine, scripts/gpu_grid.py runs the cells not done
# (a verdict's: whole pairs only), ORDER's substrings first, 15 at a time, float32 (TF32 off)
# with deterministic algorithms, and records a provenance session naming the GPU; keeps a
# verdict's whole pairs only (a cell whose partner did not finish comes back apart, in
# NAME.withheld/); diagnoses a dfad sweep's new cells' final networks (the checkpoints stay on
# the machine). What comes back: $OUT/NAME.tgz, holding NAME/ (the record), NAME.logs/ (logs,
# diagnose.json) and NAME.withheld/.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/sweep_trains.sh"
usage="usage: scripts/gpu_grid.sh prepare|run|adopt NAME [ORDER...|DIR]"
what=${1:?$usage}; shift
case $what in prepare|run|adopt) ;; *) echo "gpu_grid: unknown step $what (prepare, run or adopt)" >&2; exit 2 ;; esac
name=${1:?$usage}; shift
declare -A PIN=([table1]=bb71de5 [table2_tune]=7dfb6b7 [table2_dt]=541bbc3 [table2_w32]=cee1b22
          [table2_cos]=72958c0)  # as scripts/sweep_pinned.sh
commit=${PIN[$name]:-}
[ -n "$commit" ] || { echo "gpu_grid: no pinned record $name (known: ${!PIN[*]})" >&2; exit 2; }
top=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
D=$top/_dev
case $what in
  prepare)
    set -e
    grep -qx "/_dev/" "$top/.git/info/exclude" 2>/dev/null || { mkdir -p "$top/.git/info"; echo "/_dev/" >> "$top/.git/info/exclude"; }
    if sweep_trains "$name"; then
      echo "gpu_grid: the CPU sweep $name runs; stop it first (scripts/sweep_pinned.sh $name --stop), so that no cell runs on both machines" >&2; exit 2
    fi
    rm -rf "$D/pin/$name" "$D/rec/$name"
    mkdir -p "$D/pin/$name" "$D/fmnist" "$D/cache/classifiers" "$D/rec" "$D/whl"
    git -C "$top" archive "$commit" osgan | tar x -C "$D/pin/$name"
    git -C "$top" rev-parse "$commit" > "$D/pin/$name/COMMIT"
    cp /usr/share/datasets/fashion-mnist/*.gz "$D/fmnist/"
    cp "$top"/osgan/instruments/*.pt "$D/cache/classifiers/"
    src=$(dirname "$top")/pinned-$name/results/$name
    [ -d "$src" ] || src=$top/results/$name
    cp -r "$src" "$D/rec/$name"
    for c in "$D/rec/$name"/*/; do  # a cell under way here resumes here: not there
      if [ -f "$c/config.json" ] && [ ! -f "$c/done.json" ]; then rm -rf "$c"; fi
      rm -rf "$c/samples"  # sample grids stay here: what travels is capped at 64 MiB
    done
    ls "$D"/whl/*.whl >/dev/null 2>&1 || (cd "$D/whl" && "$top/.venv/bin/python" -m pip download \
        -q --no-deps --only-binary=:all: clean-fid==0.1.35 submitit==1.5.4)
    cp "$top/scripts/gpu_grid.py" "$top/scripts/gpu_dfad_probe.py" "$D/"
    tree=$(git -C "$top" ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
    dev=$(du -sb "$D" | cut -f1)
    echo "_dev ($(ls "$D/pin" | tr '\n' ' ')) $((dev >> 20)) MiB + the tracked tree $((tree >> 20)) MiB travel (at most 64 MiB)"
    [ $((dev + tree)) -lt $((62 << 20)) ] || { echo "gpu_grid: too much would travel" >&2; exit 2; } ;;
  run)
    [ -f "$D/pin/$name/COMMIT" ] || { echo "gpu_grid: $name is not prepared in $D (scripts/gpu_grid.sh prepare $name, here)" >&2; exit 2; }
    OUT=${OUT:-/tmp/gpu-grid}; T0=$(date +%s); L=$D/$name.logs
    mkdir -p "$OUT" "$L"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$D"/whl/*.whl
    mkdir -p /usr/share/datasets/fashion-mnist && cp "$D"/fmnist/* /usr/share/datasets/fashion-mnist/
    export PYTHONPATH=$D/pin/$name:/tmp/site PYTHONUNBUFFERED=1 OSGAN_CACHE=$D/cache CUBLAS_WORKSPACE_CONFIG=:4096:8
    W=${W:-15}; TRAIN_S=${TRAIN_S:-400}
    { nvidia-smi -L; nproc; cd "$D" && python3 gpu_grid.py flags; } 2>&1 | tee "$L/env.txt"
    cd "$D"
    rm -f "$D/rec/$name/.gpu_durations"
    export GPU_GRID_DEADLINE=$(( $(date +%s) + TRAIN_S ))  # no run starts that would end past it
    timeout -s INT "$TRAIN_S" python3 gpu_grid.py train "$name" "$D/rec/$name" "$W" "$@" > "$L/train.log" 2>&1
    echo "$name: train rc $? after $(( $(date +%s) - T0 )) s; cells finished: $(grep -c "^finished" "$L/train.log"), not started: $(grep -c "^skipped" "$L/train.log"), failed: $(grep -c "^failed" "$L/train.log")"
    mv -f "$D/rec/$name/.gpu_durations" "$L/durations.txt" 2>/dev/null || true
    python3 gpu_grid.py pairs "$name" "$D/rec/$name" "$D/$name.withheld" 2>&1 | tee "$L/pairs.log"
    if [ "${name#table2}" != "$name" ]; then
      timeout 90 python3 gpu_grid.py diagnose "$D/rec/$name" "$W" "$L/diagnose.json" > "$L/diagnose.log" 2>&1
      echo "$name: diagnose rc $? after $(( $(date +%s) - T0 )) s"
    fi
    P=$D/$name.pack; rm -rf "$P" && mkdir -p "$P"
    cp -r "$D/rec/$name" "$L" "$P/" && { [ ! -d "$D/$name.withheld" ] || cp -r "$D/$name.withheld" "$P/"; }
    tar czf "$OUT/$name.tgz" -C "$P" . ;;
  adopt)
    set -e
    dir=${1:?usage: scripts/gpu_grid.sh adopt NAME DIR (DIR holds NAME/: NAME.tgz unpacked)}
    rec=$dir/$name wt=$(dirname "$top")/pinned-$name cache=$(dirname "$top")/pinned-$name.cache
    [ -f "$rec/provenance.json" ] || { echo "gpu_grid: $rec holds no record of $name" >&2; exit 2; }
    if sweep_trains "$name"; then
      echo "gpu_grid: the CPU sweep $name runs; stop it first (scripts/sweep_pinned.sh $name --stop)" >&2; exit 2
    fi
    cells=$(cd "$top" && .venv/bin/python -c "import json,sys; from osgan.analysis.records import gpu_of; s=json.load(open(sys.argv[1]))['sessions'][-1]; print(' '.join(s['cells_finished']) if gpu_of(s) else '')" "$rec/provenance.json")
    [ -n "$cells" ] || { echo "gpu_grid: the last session of $rec ran no cell on a GPU" >&2; exit 2; }
    (cd "$top" && .venv/bin/python -m osgan sweep "$name" --collect "$rec")
    for c in $cells; do  # the pinned worktree's sweep skips them; a CPU checkpoint of one goes
      if [ -d "$wt/results/$name" ]; then rm -rf "$wt/results/$name/$c"; cp -r "$rec/$c" "$wt/results/$name/"; fi
      rm -rf "$cache/sweeps/$name/$c"
    done
    echo "adopted: $cells" ;;
esac
