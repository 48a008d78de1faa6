#!/usr/bin/env bash
# Resume a recorded sweep in the background, on any machine, exactly as its record was started:
#   scripts/sweep_pinned.sh NAME [--workers N] [--train-instruments]
# - the code: a worktree ../pinned-NAME at the commit the record's cells ran at (PIN below), with
#   the cells main holds copied in (the sweep skips them; a cell under way there is kept);
# - the instruments: the classifiers the record is measured with, frozen in osgan/instruments,
#   copied into the cache where the pinned code looks for them. A classifier trained on another
#   CPU is another instrument (the domain classifier: 0.9072 on AMD EPYC, 0.9049 on an Intel Xeon),
#   so without the frozen file the script refuses; --train-instruments lets the sweep train it, on
#   the CPU the record's were trained on only, for `python -m osgan instruments --freeze` after;
# - the arithmetic: Intel's MKL capped at AVX2, as on AMD (the pinned code predates the cap).
# Then: `python -m osgan sweep NAME --collect ../pinned-NAME/results/NAME` as cells finish, and
# `pkill -TERM -f "osgan sweep NAME"` to stop it (it resumes from its checkpoints).
set -eu
usage="usage: scripts/sweep_pinned.sh NAME [--workers N] [--train-instruments]"
name=${1:?$usage}
shift
declare -A PIN=([table1]=bb71de5 [table2_tune]=7dfb6b7)
declare -A NEEDS=([table1]=domain-fashion_mnist-cnn-5949e7d6af8914a7.pt
                  [table2_tune]=teacher-fashion_mnist-lenet5-79969431beba148f.pt)
declare -A ACCURACY=([table1]=0.9072 [table2_tune]=0.9054)  # the record's, on AMD EPYC
commit=${PIN[$name]:-}
[ -n "$commit" ] || { echo "sweep_pinned: no pinned record for $name (known: ${!PIN[*]})" >&2; exit 2; }
workers=1 train=0
while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=${2:?$usage}; shift 2 ;;
    --train-instruments) train=1; shift ;;
    *) echo "sweep_pinned: unknown option $1; $usage" >&2; exit 2 ;;
  esac
done
top=$(git rev-parse --show-toplevel)
cd "$top"
py=$top/.venv/bin/python
wt=$(dirname "$top")/pinned-$name
cache=${OSGAN_CACHE:-$HOME/.cache/osgan}
if pgrep -f "osgan sweep $name( |$)" >/dev/null; then
  echo "sweep_pinned: a sweep $name runs already (pgrep -af 'osgan sweep $name')" >&2; exit 2
fi
need=${NEEDS[$name]}
if [ ! -f "osgan/instruments/$need" ]; then
  cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2-)
  if [ $train = 0 ]; then
    echo "sweep_pinned: $need is not frozen in osgan/instruments, and one trained on this CPU" \
         "($cpu) may be another instrument than the record's. On an AMD EPYC, run with" \
         "--train-instruments, check its accuracy is ${ACCURACY[$name]} and freeze it." >&2
    exit 2
  fi
  case $cpu in
    *"AMD EPYC"*) ;;
    *) echo "sweep_pinned: the record's instruments were trained on AMD EPYC, this CPU is$cpu" >&2
       exit 2 ;;
  esac
fi
[ -d "$wt" ] || git worktree add --detach "$wt" "$commit" >/dev/null
if [ "$(git -C "$wt" rev-parse --short=7 HEAD)" != "$commit" ]; then
  echo "sweep_pinned: $wt is not at $commit; remove it (git worktree remove $wt)" >&2; exit 2
fi
mkdir -p "$wt/results/$name" "$cache/classifiers"
cp -rn "results/$name/." "$wt/results/$name/"
for f in osgan/instruments/*.pt; do
  [ -f "$f" ] || continue
  dest=$cache/classifiers/$(basename "$f")
  if [ -e "$dest" ] && ! cmp -s "$f" "$dest"; then
    mv "$dest" "$dest.not-frozen"  # this machine's own: kept aside, never used by the record
    echo "sweep_pinned: $dest was not the frozen file; kept as $dest.not-frozen" >&2
  fi
  cp "$f" "$dest"
done
export MKL_ENABLE_INSTRUCTIONS=AVX2
(cd "$wt" && nohup nice -n 2 "$py" -m osgan sweep "$name" --workers "$workers" \
   >> "../$name.log" 2>&1 &)
echo "sweep $name started from $wt ($commit, $workers worker(s)); log: $(dirname "$top")/$name.log"
