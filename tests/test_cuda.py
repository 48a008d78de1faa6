"""The CUDA path: one stage against two separate autograd passes on the GPU, the GPU against the
CPU, the GPU's float32 (TF32 convolutions by default) and bfloat16 rounding, and training and
distillation runs on the GPU that resume and load on a CPU.

Skipped where torch sees no CUDA device (CI); run on one with
``pytest tests/test_cuda.py`` (``scripts/device_check.sh`` runs it with the GPU benchmark).
"""

import copy
import dataclasses

import pytest
import torch
from conftest import ALL, batch, tiny_models
from fixtures_data import write_fashion_mnist

import osgan
from osgan import data, dfad, layout, losses
from osgan.reference import grads, reference_grads, rel_err
from osgan.training import TrainConfig, load_generator, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


@pytest.fixture
def exact_float32():
    """cuDNN's convolutions in true float32 (torch's default lets them round to TF32)."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def _on(device, G, D, x, z, y):
    G, D = copy.deepcopy(G).to(device), copy.deepcopy(D).to(device)
    return G, D, x.to(device), z.to(device), None if y is None else y.to(device)


def _one_stage_grads(G, D, obj, x, z, y, **kw):
    osgan.one_stage_backward(G, D, obj, x, z, y, **kw)
    return grads(D), grads(G)


@pytest.mark.parametrize("name", ALL)
def test_one_stage_equals_two_passes_on_cuda(name):
    obj = losses.get(name)
    G, D, x, z, y = _on(CUDA, *tiny_models(obj), *batch(obj))
    got_d, got_g = _one_stage_grads(G, D, obj, x, z, y)  # first: spectral norm's power
    ref_d, ref_g = reference_grads(G, D, obj, x, z, y)  # iteration, then reused in eval mode
    assert rel_err(got_d, ref_d) < 1e-9 and rel_err(got_g, ref_g) < 1e-9


@pytest.mark.parametrize("name", ALL)
def test_cuda_gradients_equal_cpu_gradients(name):
    obj = losses.get(name)
    G, D = tiny_models(obj)
    x, z, y = batch(obj)
    cG, cD, cx, cz, cy = _on("cpu", G, D, x, z, y)
    gG, gD, gx, gz, gy = _on(CUDA, G, D, x, z, y)
    cpu_d, cpu_g = _one_stage_grads(cG, cD, obj, cx, cz, cy)
    gpu_d, gpu_g = _one_stage_grads(gG, gD, obj, gx, gz, gy)
    assert rel_err([g.cpu() for g in gpu_d], cpu_d) < 1e-9
    assert rel_err([g.cpu() for g in gpu_g], cpu_g) < 1e-9


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("name", ["dcgan", "dcgan_ns", "lsgan", "relgan", "geogan"])
def test_float32_layouts_on_cuda(name, channels_last, fused, exact_float32):
    """Every layout the CUDA runs may take (one 2B pass of D or two B passes, NCHW or NHWC)
    gives two passes' gradients in float32."""
    obj = losses.get(name)
    G, D = tiny_models(obj, dtype=torch.float32, width=8)
    G, D, x, z, y = _on(CUDA, G, D, *batch(obj, B=8, dtype=torch.float32))
    lay = layout.Layout(channels_last, channels_last, fused, threads=1, adam_fused=True)
    lay.apply(G, D)
    got_d, got_g = _one_stage_grads(G, D, obj, lay.batch(x), z, y, fused=fused)
    ref_d, ref_g = reference_grads(G, D, obj, lay.batch(x), z, y)
    assert rel_err(got_d, ref_d) < 1e-4 and rel_err(got_g, ref_g) < 1e-4


@pytest.mark.parametrize("name", ["dcgan_ns", "lsgan"])
def test_tf32_default_rounds_both_schemes_alike(name):
    """With torch's defaults (TF32 convolutions on Ampere and later) one stage still matches two
    passes run the same way, to TF32's rounding, not float32's."""
    obj = losses.get(name)
    G, D = tiny_models(obj, dtype=torch.float32, width=8)
    G, D, x, z, y = _on(CUDA, G, D, *batch(obj, B=8, dtype=torch.float32))
    got_d, got_g = _one_stage_grads(G, D, obj, x, z, y)
    ref_d, ref_g = reference_grads(G, D, obj, x, z, y)
    assert rel_err(got_d, ref_d) < 2e-2 and rel_err(got_g, ref_g) < 2e-2


@pytest.mark.parametrize("name", ["dcgan", "dcgan_ns", "lsgan", "relgan"])
def test_bfloat16_autocast_on_cuda(name, exact_float32):
    obj = losses.get(name)
    G, D = tiny_models(obj, dtype=torch.float32, width=8)
    G, D, x, z, y = _on(CUDA, G, D, *batch(obj, B=8, dtype=torch.float32))
    ref_d, ref_g = reference_grads(G, D, obj, x, z, y)  # float32
    with torch.autocast("cuda", dtype=torch.bfloat16):
        stats = osgan.one_stage_backward(G, D, obj, x, z, y, as_float=False)
        bf_d, bf_g = reference_grads(G, D, obj, x, z, y)
    assert all(v.dtype == torch.float32 for v in stats.values())
    got_d, got_g = grads(D), grads(G)
    # one stage agrees with two passes under the same autocast far closer than with float32
    assert rel_err(got_g, bf_g) < 0.02 and rel_err(got_d, bf_d) < 0.02
    assert 1e-4 < rel_err(got_g, ref_g) < 0.2


def test_check_one_stage_takes_cuda_models():
    obj = losses.get("lsgan")
    G, D, x, z, y = _on(CUDA, *tiny_models(obj, dtype=torch.float32, width=8),
                        *batch(obj, dtype=torch.float32))
    report = osgan.check_one_stage(G, D, obj, x, z, y)
    assert report.exact, report
    assert next(G.parameters()).device.type == "cuda"  # the user's modules stay where they were


@pytest.fixture
def fmnist(tmp_path, monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(data, "SYSTEM_DIRS", ())
    write_fashion_mnist(tmp_path / "data", n_train=64, n_test=32)
    return tmp_path


class Killed(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("stages", ["one", "two"])
def test_training_on_cuda_resumes_and_its_generator_loads_on_cpu(fmnist, monkeypatch, stages):
    from osgan import training

    def cfg(out, **kw):
        return TrainConfig.for_profile("smoke", **(dict(
            data_root=str(fmnist / "data"), out_dir=str(fmnist / out), width=4, nz=8,
            batch_size=6, steps=8, log_every=1, sample_every=4, checkpoint_every=4, sample_n=4,
            progress=False, device="cuda", stages=stages) | kw))

    whole = train(cfg("whole"))
    assert next(whole.G.parameters()).device.type == "cuda"
    name = "one_stage_step" if stages == "one" else "two_stage_step"
    real, calls = getattr(training, name), {"n": 0}

    def dying(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 7:
            raise Killed
        return real(*a, **kw)

    monkeypatch.setattr(training, name, dying)
    with pytest.raises(Killed):
        train(cfg("split"))
    monkeypatch.setattr(training, name, real)
    resumed = train(cfg("split", resume=True))
    assert [r["step"] for r in resumed.records] == list(range(1, 9))
    keys = ("Loss/D", "Loss/G")
    a = torch.tensor([[r[k] for k in keys] for r in resumed.records])
    b = torch.tensor([[r[k] for k in keys] for r in whole.records])
    # cuDNN's backward may sum in another order from run to run: equal to float32's rounding
    torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)

    G_cpu = load_generator(fmnist / "whole", "cpu")[0]
    z = torch.randn(4, 8)
    torch.testing.assert_close(G_cpu(z), whole.G.eval()(z.to(CUDA)).cpu(), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("scheme", dfad.SCHEMES)
def test_distillation_on_cuda(fmnist, scheme):
    cfg = dfad.DFADConfig(data_root=str(fmnist / "data"), cache_dir=str(fmnist / "cache"),
                          rounds=4, batch_size=8, nz=8, g_width=4, eval_every=2,
                          teacher_epochs=0.2, progress=False, device="cuda", student_steps=2,
                          val_n=16, scheme=scheme, checkpoint_every=2,
                          out_dir=str(fmnist / scheme))
    res = dfad.distill(cfg)
    assert [r["round"] for r in res.records] == [0, 2, 4]
    assert 0.0 <= res.accuracy <= 1.0
    assert next(res.student.parameters()).device.type == "cuda"
    more = dfad.distill(dataclasses.replace(cfg, rounds=6, resume=True))
    assert [r["round"] for r in more.records] == [0, 2, 4, 6]
