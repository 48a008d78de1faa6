#!/usr/bin/env bash
# Make sure Fashion-MNIST is on this machine: Debian's package `dataset-fashion-mnist` puts the
# IDX files under /usr/share/datasets/fashion-mnist. Installs it when missing and the machine
# allows (root + apt); otherwise says how, and leaves the decision to the user (data_root works too).
set -u
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ] || [ -f "$dir/train-images-idx3-ubyte" ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Fashion-MNIST missing: installing Debian's dataset-fashion-mnist" >&2
  (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
   || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; }) \
   && exit 0
fi
echo "Fashion-MNIST not found in $dir and could not be installed here." >&2
echo "Install it with 'sudo apt-get install dataset-fashion-mnist', or pass data_root=DIR holding the IDX files." >&2
exit 0  # not fatal: tests that need it are skipped with this reason, fixtures cover the format
