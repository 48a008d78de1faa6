#!/usr/bin/env bash
# Resume a recorded sweep in the background, on any machine, as its record was started:
#   scripts/sweep_pinned.sh NAME [--workers N] [--only K] | NAME --stop
# - the code: a worktree ../pinned-NAME at the commit the record's cells ran at (PIN below), with
#   the cells main holds copied in (the sweep skips them; a cell under way there is kept);
# - the instruments: the classifiers the record is measured with (the domain classifier, the
#   teacher), frozen in osgan/instruments, copied into a cache of the sweep's own
#   (../pinned-NAME.cache, $OSGAN_CACHE for the sweep): a classifier trained here would be
#   another instrument, and a shared cache could pair the frozen classifier with reference
#   statistics another classifier computed (their cache key names the recipe, not the weights).
#   Without the frozen file the script refuses. The frozen ones were trained on an Intel Xeon;
#   the cells recorded before them were measured with an AMD EPYC's, which is lost
#   (results/README.md, "Instruments");
# - the arithmetic: Intel's MKL capped at AVX2, as on AMD (the pinned code predates the cap).
# --only K ends the sweep after its next K cells (a cell under way first): the way to finish a
# long cell without letting its worker start another that the session has no time left for.
# Then: `python -m osgan sweep NAME --collect ../pinned-NAME/results/NAME` as cells finish, and
# `scripts/sweep_pinned.sh NAME --stop` to stop it with its workers (it resumes from its
# checkpoints; `pkill -f "osgan sweep NAME"` alone leaves an old pin's workers running).
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/sweep_trains.sh"
usage="usage: scripts/sweep_pinned.sh NAME [--workers N] [--only K] | NAME --stop"
name=${1:?$usage}
shift
declare -A PIN=([table1]=bb71de5 [table2_tune]=7dfb6b7 [table2_dt]=541bbc3 [table2_w32]=cee1b22
          [table2_cos]=72958c0)
declare -A NEEDS=([table1]=domain-fashion_mnist-cnn-5949e7d6af8914a7.pt
                  [table2_tune]=teacher-fashion_mnist-lenet5-79969431beba148f.pt
                  [table2_dt]=teacher-fashion_mnist-lenet5-ccc6a149715d2246.pt
                  [table2_w32]=teacher-fashion_mnist-lenet5-ccc6a149715d2246.pt
                  [table2_cos]=teacher-fashion_mnist-lenet5-ccc6a149715d2246.pt)
commit=${PIN[$name]:-}
[ -n "$commit" ] || { echo "sweep_pinned: no pinned record for $name (known: ${!PIN[*]})" >&2; exit 2; }
workers=1
only=()
stop=0
while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=${2:?$usage}; shift 2 ;;
    --only) only=(--only "${2:?$usage}"); shift 2 ;;
    --stop) stop=1; shift ;;
    *) echo "sweep_pinned: unknown option $1; $usage" >&2; exit 2 ;;
  esac
done
for n in "$workers" "${only[@]:1}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "sweep_pinned: $n is not a count of 1 or more; $usage" >&2; exit 2; }
done
top=$(git rev-parse --show-toplevel)
cd "$top"
py=$top/.venv/bin/python
wt=$(dirname "$top")/pinned-$name
cache=$(dirname "$top")/pinned-$name.cache
if [ "$stop" = 1 ]; then
  # Every Python process working in the worktree: the sweep, its pool's workers and those a
  # sweep stopped before left running. A record pinned before harness.sigterm_exits leaves its
  # workers running as orphans when only `osgan sweep` is killed; they train on and hold their
  # cells' locks against the next start. They resume from their checkpoints.
  pids=()
  for proc in /proc/[0-9]*; do
    [ "$(readlink "$proc/cwd" 2>/dev/null)" = "$wt" ] || continue
    tr '\0' ' ' < "$proc/cmdline" 2>/dev/null | grep -q python && pids+=("${proc#/proc/}")
  done
  if [ ${#pids[@]} -eq 0 ]; then echo "sweep_pinned: nothing of $name runs in $wt"; exit 0; fi
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 30); do
    alive=()
    for p in "${pids[@]}"; do  # a zombie (ended, not yet reaped by its parent) is gone
      state=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1) || continue
      [ -n "$state" ] && [ "$state" != Z ] && alive+=("$p")
    done
    [ ${#alive[@]} -eq 0 ] && { echo "sweep_pinned: stopped $name (${#pids[@]} process(es))"; exit 0; }
    sleep 1
  done
  echo "sweep_pinned: ${alive[*]} of $name still run(s) after 30 s (kill -KILL them)" >&2; exit 1
fi
need=${NEEDS[$name]}
if [ ! -f "osgan/instruments/$need" ]; then
  echo "sweep_pinned: $need is not frozen in osgan/instruments; a classifier trained here would" \
       "be another instrument than the record's (git checkout -- osgan/instruments)" >&2
  exit 2
fi
for f in osgan/instruments/*.pt; do  # refused before anything is made
  dest=$cache/classifiers/$(basename "$f")
  if [ -e "$dest" ] && ! cmp -s "$f" "$dest"; then
    echo "sweep_pinned: $dest is not the frozen $f; the sweep's cache must hold the frozen" \
         "instruments only (move it away, and $cache/fid_refs with it)" >&2
    exit 2
  fi
done
if sweep_trains "$name"; then
  echo "sweep_pinned: a sweep $name runs already (pgrep -af 'osgan sweep $name')" >&2; exit 2
fi
[ -d "$wt" ] || git worktree add --detach "$wt" "$commit" >/dev/null
if [ "$(git -C "$wt" rev-parse --short=7 HEAD)" != "$commit" ]; then
  echo "sweep_pinned: $wt is not at $commit; remove it (git worktree remove $wt)" >&2; exit 2
fi
mkdir -p "$wt/results/$name" "$cache/classifiers"
# main's cells and files the worktree lacks (none before the first cell); what it has, a cell
# under way there included, is kept (a loop, not cp -n, whose exit status differs by version)
for entry in "results/$name"/* "results/$name"/.[!.]*; do
  [ -e "$entry" ] || continue
  [ -e "$wt/results/$name/$(basename "$entry")" ] || cp -r "$entry" "$wt/results/$name/"
done
for f in osgan/instruments/*.pt; do
  [ -e "$cache/classifiers/$(basename "$f")" ] || cp "$f" "$cache/classifiers/"
done
export MKL_ENABLE_INSTRUCTIONS=AVX2 OSGAN_CACHE=$cache
(cd "$wt" && nohup nice -n 2 "$py" -m osgan sweep "$name" --workers "$workers" "${only[@]}" \
   >> "../$name.log" 2>&1 &)
echo "sweep $name started from $wt ($commit, $workers worker(s)${only:+, ${only[1]} cell(s)});" \
     "log: $(dirname "$top")/$name.log"
