# Sourced by the scripts that must not start beside a CPU sweep that trains (sweep_pinned.sh,
# gpu_grid.sh). sweep_trains NAME: true while a process trains sweep NAME (`python -m osgan
# sweep NAME ...`); a read-only --collect, --rescore or --dry-run on it does not count.
sweep_trains() {
  pgrep -af "osgan sweep $1( |\$)" | grep -Eqv -- "--(collect|rescore|dry-run)"
}
