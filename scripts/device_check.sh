#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one script of under ten minutes (run from the repository
# root on the GPU machine; OUT: a folder for what comes back, default _build/device):
#   1. tests/test_cuda.py: one stage against two passes on the GPU, GPU against CPU, TF32 and
#      bfloat16 rounding, training and distillation runs that resume and load on a CPU;
#   2. the recorded GPU benchmark of chapter 04 (`osgan bench --profile full`), written to
#      results/bench-cuda-<gpu>-<objective>/ and, for torch.compile, results/bench-cuda-<gpu>-compile/
#      (packed into OUT/bench-results.tgz);
#   3. scripts/gpu_profile.py: a round under torch.profiler (how busy the GPU is) and every D
#      layout timed side by side, written to results/bench-<gpu>-profile/;
#   4. the whole test suite with the GPU visible (device="auto" picks it), minus the notebook
#      and set-up tests, which need the book's tool chain.
# A wheel of clean-fid may sit in .whl/ for machines without it. Each step has its own time
# limit, so one slow step cannot take the others' results with it.
set -u
OUT=${OUT:-_build/device}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PY=${PY:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
        .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
gpu=$($PY -c "import torch; print(torch.cuda.get_device_name().split()[-1].lower())")
{ nvidia-smi -L; uname -a; nproc
  $PY -c "import torch, torchvision, numpy; print('torch', torch.__version__, 'cuda',
torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'torchvision',
torchvision.__version__, 'numpy', numpy.__version__)"; } > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

echo "== 1. tests/test_cuda.py"
timeout 100 $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/cuda-tests.log"

echo "== 2. bench --profile full, one objective at a time (every option but compile), then compile"
for obj in dcgan dcgan_ns; do
    timeout 150 $PY -m osgan bench --profile full --objectives $obj \
        --options layout channels_last bf16 cudnn_benchmark sync \
        --out-dir "results/bench-cuda-$gpu-$obj" 2>&1 | tee -a "$OUT/bench.log"
done
timeout 120 $PY -m osgan bench --profile full --image-sizes 64 --widths 64 --batch-sizes 64 \
    --options compile --out-dir "results/bench-cuda-$gpu-compile" 2>&1 | tee -a "$OUT/bench.log"
tar czf "$OUT/bench-results.tgz" results/bench-cuda-*

echo "== 3. where a round's time goes; the layouts side by side"
timeout 120 $PY scripts/gpu_profile.py --device cuda 2>&1 | grep -v "^USDT\|^ERROR:.*DeviceProperties" \
    | tee "$OUT/profile.log"
cp results/bench-*-profile/profile.json "$OUT/" 2>/dev/null

echo "== 4. the test suite with the GPU visible"
workers=$(( $(nproc) > 12 ? 12 : $(nproc) ))
timeout 120 $PY -m pytest -q -p no:cacheprovider -n "$workers" -m "not slow" \
    --ignore tests/test_notebooks.py --ignore tests/test_setup.py 2>&1 | tail -n 60 \
    > "$OUT/suite.log"
tail -n 30 "$OUT/suite.log"
