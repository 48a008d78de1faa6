r"""Many seeds of one training run in one process: the seeds of a sweep's cell (the same config,
seeds :math:`s_1 \dots s_K`) trained as one stacked ensemble, for a GPU that one small run leaves
mostly idle (``python -m osgan sweep NAME --seeds-per-process K``).

Each seed's parameters and buffers are stacked on a new first dimension
(``torch.func.stack_module_state``) and G and D run over all seeds at once
(``torch.func.functional_call`` under ``torch.func.vmap``: a convolution with stacked weights is
one grouped convolution). Everything that is a seed's own stays its own: its initial weights, its
noise and data generators (each seed is set up by :func:`osgan.training._setup`, as its separate
run is), its objective (Fisher GAN's multiplier), its :math:`\gamma_i` of Eq. 7-9 and its losses.
One Adam over the stacked parameters is K Adams (Adam is elementwise), and so is one moving
average of G (``torch.optim.swa_utils``, elementwise too). Each step is
:func:`osgan.steps.one_stage_step` (Algorithm 1) or :func:`osgan.steps.two_stage_step`
(Eq. 13-15) written over the stack.

Each seed's run folder is a separate run's: ``config.json``, ``metrics.jsonl`` (the same rows),
sample grids, ``checkpoint.pt`` and ``done.json``, written by :class:`osgan.harness.RunFolder`
with the same locks and checks. At sample, evaluation and checkpoint steps a seed's slice of the
stack is copied into its own ordinary modules and optimizers, and the code of a separate run
(:mod:`osgan.training`) samples, evaluates and checkpoints them, so a separate run resumes from an
ensemble's checkpoint and an ensemble from separate runs' (at one step).

In this implementation we:

* get the losses, :math:`\gamma_i` and the statistics seed by seed (a short loop of small ops)
  and back-propagate their sum: the seeds are independent, so each gets its own gradient;
* scale G's gradient at :math:`\hat x` by :func:`osgan.scale.scale_grad` outside ``vmap``, on the
  seeds' samples laid end to end (K B samples): the autograd Function needs no vmap rule;
* run a D with spectral norm (SNGAN) seed by seed on the seeds' slices of the stack: torch's
  spectral norm updates its power-iteration vectors with ``out=`` ops, which ``vmap`` cannot
  batch (``aten::div.out``); the loop calls the same parametrization on each seed, exactly;
* call an objective's after-step rule with the stacked D: WGAN's clipping is elementwise (each
  seed's rule clips every seed, the same clip), Fisher GAN's reads its own seed's terms; other
  rules are refused (:func:`unsupported`), as is bfloat16 autocast (not checked under ``vmap``);
* keep training a seed whose numbers became non-finite (the seeds do not mix) but stop writing
  its folder, which keeps its last good checkpoint; the others run to the end, then the ensemble
  fails (:class:`osgan.util.RunFailed`) naming it;
* log ``Time/train`` as the ensemble's training clock: each seed's wall-clock, shared by K seeds
  (the sweep's provenance records ``seeds_per_process``).

A stacked step equals K separate steps to float rounding (a grouped convolution sums in another
order); ``tests/test_ensemble.py`` checks the losses against separate runs.
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from osgan import checkpoint, data, losses, settings, training
from osgan.harness import Clock, RunFolder, loop, progress
from osgan.scale import per_image_gamma, per_sample_gamma, scale_grad
from osgan.steps import _d_stats, _gamma_stats
from osgan.training import KIND, TrainConfig, TrainResult
from osgan.util import RunFailed, UsageError, eval_mode

# what may differ between the seeds of one ensemble (everything else is the cell's config)
OWN = ("seed", "out_dir", "checkpoint_dir", "resume")
# after-step rules the stacked D may be handed: elementwise on D's parameters, or on the terms
_AFTER_STEP_OK = (losses.Objective.after_d_step, losses.WGAN.after_d_step,
                  losses.FisherGAN.after_d_step)


class Stack(nn.Module):
    """K modules of one architecture as one: parameters and buffers stacked on dimension 0 (seed
    k's slice is index k), called on inputs of shape ``(K, ...)``. Its ``parameters()`` are in the
    order of one module's, so one optimizer over them is K optimizers of those modules."""

    def __init__(self, modules: list[nn.Module]):
        super().__init__()
        params, buffers = stack_module_state(modules)
        self.param_names, self.buffer_names = list(params), list(buffers)
        for i, t in enumerate(params.values()):
            self.register_parameter(f"p{i}", nn.Parameter(t.detach().contiguous()))
        for i, t in enumerate(buffers.values()):
            self.register_buffer(f"b{i}", t.contiguous())
        # the architecture, called with the stack's tensors swapped in; kept out of the module
        # tree (its own tensors are never read, nor optimised)
        self.__dict__["base"] = copy.deepcopy(modules[0])
        # torch's spectral norm cannot run under vmap (module docstring): seed by seed
        self.loop = any(hasattr(m, "parametrizations") for m in modules[0].modules())

    @property
    def seeds(self) -> int:
        return self.p0.shape[0]

    def tensors(self) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """The stacked parameters and buffers by the module's own names."""
        return ({n: getattr(self, f"p{i}") for i, n in enumerate(self.param_names)},
                {n: getattr(self, f"b{i}") for i, n in enumerate(self.buffer_names)})

    def forward(self, inp: Tensor, y: Tensor | None = None) -> Tensor:
        """``module_k(inp[k], y[k])`` for every seed k, stacked; ``y`` None for no labels."""
        params, buffers = self.tensors()
        args = (inp,) if y is None else (inp, y)
        if self.loop:
            return torch.stack([self.one(k, *(a[k] for a in args)) for k in range(self.seeds)])

        def call(p, b, *a):
            return functional_call(self.base, (p, b), a)

        return vmap(call, in_dims=(0, 0) + (0,) * len(args))(params, buffers, *args)

    def one(self, k: int, *args: Tensor) -> Tensor:
        """Seed k's module alone on ``args`` (no leading seed dimension)."""
        params, buffers = self.tensors()
        return functional_call(self.base, ({n: t[k] for n, t in params.items()},
                                           {n: t[k] for n, t in buffers.items()}), args)

    @torch.no_grad()
    def copy_to(self, k: int, module: nn.Module) -> None:
        """Seed k's slice into an ordinary ``module``."""
        params, buffers = self.tensors()
        own = dict(module.named_parameters()) | dict(module.named_buffers())
        for n, t in (params | buffers).items():
            own[n].copy_(t[k])

    @torch.no_grad()
    def copy_from(self, k: int, module: nn.Module) -> None:
        """An ordinary ``module``'s parameters and buffers into seed k's slice."""
        params, buffers = self.tensors()
        own = dict(module.named_parameters()) | dict(module.named_buffers())
        for n, t in (params | buffers).items():
            t[k].copy_(own[n])


def _elementwise(value: Any, shape: torch.Size) -> bool:
    """An optimizer's state per element of a parameter of ``shape`` (Adam's moments), not a
    count (its step)."""
    return torch.is_tensor(value) and value.dim() > 0 and value.shape == shape


@torch.no_grad()
def optimizer_to(stacked: torch.optim.Optimizer, k: int, opt: torch.optim.Optimizer) -> None:
    """Seed k's state of the stacked optimizer into its ordinary optimizer ``opt`` (over seed
    k's module, parameters in the same order): elementwise state sliced, the step count kept."""
    own = [p for g in opt.param_groups for p in g["params"]]
    state = {}
    for i, (P, p) in enumerate(zip([q for g in stacked.param_groups for q in g["params"]], own)):
        if P in stacked.state:  # in p's memory format, as its own optimizer would keep it
            state[i] = {key: torch.empty_like(p).copy_(v[k]) if _elementwise(v, P.shape)
                        else v.clone() for key, v in stacked.state[P].items()}
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})


@torch.no_grad()
def optimizer_from(stacked: torch.optim.Optimizer, opts: list[torch.optim.Optimizer]) -> None:
    """The seeds' ordinary optimizers' states stacked into ``stacked`` (each seed at one step)."""
    groups = [[q for g in o.param_groups for q in g["params"]] for o in opts]
    for i, P in enumerate(q for g in stacked.param_groups for q in g["params"]):
        states = [o.state.get(ps[i]) for o, ps in zip(opts, groups)]
        if not any(states):
            stacked.state.pop(P, None)
            continue
        stacked.state[P] = {key: torch.stack([s[key] for s in states]).contiguous()
                            if _elementwise(v, P.shape[1:]) else v.clone()
                            for key, v in states[0].items()}


# ---------------------------------------------------------------------------------------------
# checks


def unsupported(cfg: TrainConfig) -> str | None:
    """Why ``cfg`` cannot be a seed of an ensemble (None: it can)."""
    if cfg.precision != "float32":
        return f"precision {cfg.precision} is not checked under vmap; only float32 stacks"
    objective = losses.get(cfg.gan)
    if type(objective).after_d_step not in _AFTER_STEP_OK:
        return (f"{cfg.gan}'s after-step rule may read D as a whole; only elementwise rules "
                "(WGAN's clipping) and rules on the terms (Fisher GAN's) stack")
    return None


def shared(cfg: TrainConfig) -> dict[str, Any]:
    """The config a seed shares with the other seeds of its ensemble (:data:`OWN` left out)."""
    return {k: v for k, v in asdict(cfg).items() if k not in OWN}


def check(cfgs: list[TrainConfig]) -> None:
    """One-line :class:`UsageError` for configs that cannot train as one ensemble."""
    if len(cfgs) < 1:
        raise UsageError("an ensemble needs at least one seed (seeds per process >= 1)")
    if not all(isinstance(c, TrainConfig) for c in cfgs):
        raise UsageError("an ensemble stacks training runs (TrainConfig) only")
    for c in cfgs:
        c.validate()
        why = unsupported(c)
        if why:
            raise UsageError(f"{c.run_dir()} cannot train in an ensemble: {why}; run it alone "
                             "(seeds per process 1)")
    first = shared(cfgs[0])
    for c in cfgs[1:]:
        diff = [k for k, v in shared(c).items() if v != first[k]]
        if diff:
            raise UsageError(f"seeds of different configs cannot stack: {c.run_dir()} has "
                             f"{diff[0]}={getattr(c, diff[0])!r}, {cfgs[0].run_dir()} "
                             f"{getattr(cfgs[0], diff[0])!r}; stack only the seeds of one cell")
    for what, values in (("seed", [str(c.seed) for c in cfgs]),
                         ("run folder", [str(c.run_dir()) for c in cfgs])):
        if len(set(values)) < len(values):
            raise UsageError(f"the seeds of an ensemble need each its own {what}; got "
                             f"{', '.join(values)}")


def start_step(cfg: TrainConfig) -> int:
    """The step ``cfg``'s run starts from: its checkpoint's when it resumes one, else 0 (-1 for a
    checkpoint that cannot be read: its run says why)."""
    ckpt = Path(cfg.checkpoint_dir or cfg.run_dir()) / "checkpoint.pt"
    if not (cfg.resume and ckpt.exists()):
        return 0
    try:
        return int(checkpoint.load(ckpt)["step"])
    except (ValueError, KeyError):
        return -1


def groups(cfgs: list[TrainConfig], k: int) -> list[list[TrainConfig]]:
    """``cfgs`` in ensembles of at most ``k`` seeds, in order of their first seed: the seeds of
    one cell that start from the same step; a config that cannot stack (:func:`unsupported`)
    alone."""
    out: list[list[TrainConfig]] = []
    filling: dict[str, list[TrainConfig]] = {}
    if k == 1:
        return [[cfg] for cfg in cfgs]
    for cfg in cfgs:
        start = start_step(cfg)
        if start < 0 or unsupported(cfg):
            out.append([cfg])
            continue
        key = json.dumps([shared(cfg), start], sort_keys=True, default=str)
        group = filling.get(key)
        if group is None or len(group) == k:
            group = filling[key] = []
            out.append(group)
        group.append(cfg)
    return out


# ---------------------------------------------------------------------------------------------
# the stacked run


class Ensemble:
    """K seeds' runs (:class:`osgan.training._Run`, what a separate run holds) and the stack they
    train as: G, D, their Adams and G's moving average."""

    def __init__(self, runs: list[training._Run]):
        self.runs = runs
        cfg, lay = runs[0].cfg, runs[0].layout
        self.cfg, self.device, self.fused = cfg, runs[0].device, lay.fused
        self.G = Stack([r.G for r in runs])
        self.D = Stack([r.D for r in runs])
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g,
                                      betas=(cfg.beta1_g, cfg.beta2_g), **lay.optimizer_kwargs())
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d,
                                      betas=(cfg.beta1_d, cfg.beta2_d), **lay.optimizer_kwargs())
        self.ema = AveragedModel(self.G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema),
                                 use_buffers=True) if cfg.ema else None

    def __len__(self) -> int:
        return len(self.runs)

    def stack_in(self) -> None:
        """Every seed's own modules and optimizers (set up or restored) into the stack."""
        for k, r in enumerate(self.runs):
            self.G.copy_from(k, r.G)
            self.D.copy_from(k, r.D)
            if self.ema is not None:
                self.ema.module.copy_from(k, r.ema.module)
        optimizer_from(self.opt_g, [r.opt_g for r in self.runs])
        optimizer_from(self.opt_d, [r.opt_d for r in self.runs])
        if self.ema is not None:
            self.ema.n_averaged.copy_(self.runs[0].ema.n_averaged)

    def stack_out(self, k: int, everything: bool = True) -> None:
        """Seed k's slice into its own modules: G (and its average) for sampling and evaluation;
        with ``everything``, D and both optimizers too (for its checkpoint)."""
        r = self.runs[k]
        self.G.copy_to(k, r.G)
        if self.ema is not None:
            self.ema.module.copy_to(k, r.ema.module)
            r.ema.n_averaged.copy_(self.ema.n_averaged)
        if everything:
            self.D.copy_to(k, r.D)
            optimizer_to(self.opt_g, k, r.opt_g)
            optimizer_to(self.opt_d, k, r.opt_d)

    # --- one step

    def batch(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """Each seed's real batch and z from its own generators, as its separate run draws them:
        ``x`` (K, B, C, S, S), ``z`` (K, B, nz), ``y`` (K, B) or None."""
        B, xs, ys, zs = self.cfg.batch_size, [], [], []
        for r in self.runs:
            x, y = r.images.sample(B, r.data_gen)
            xs.append(x)
            ys.append(y)
            zs.append(torch.randn(B, self.cfg.nz, device=self.device, generator=r.noise_gen))
        y = torch.stack(ys) if self.runs[0].objective.conditional else None
        return torch.stack(xs).contiguous(), torch.stack(zs), y

    def discriminate(self, x: Tensor, x_hat: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """``p``, ``p_hat`` (K, B) as :func:`osgan.steps._discriminate`: one pass over real and
        fake when D treats samples independently, else two."""
        if self.fused:
            out = self.D(torch.cat([x, x_hat], 1), None if y is None else torch.cat([y, y], 1))
            return out.split([x.shape[1], x_hat.shape[1]], dim=1)
        return self.D(x, y), self.D(x_hat, y)

    def after_d_step(self, terms: list[dict[str, Tensor]]) -> None:
        for r, t in zip(self.runs, terms):
            r.objective.after_d_step(self.D, t)

    def step(self) -> list[dict[str, Tensor]]:
        """One round of every seed; each seed's statistics, left on the device."""
        x, z, y = self.batch()
        if self.cfg.stages == "one":
            stats = self._one_stage(x, z, y)
        else:
            stats = self._two_stage(x, z, y)
        if self.ema is not None:
            self.ema.update_parameters(self.G)
        return stats

    def _one_stage(self, x, z, y) -> list[dict[str, Tensor]]:
        """:func:`osgan.steps.one_stage_step` over the stack."""
        G, D, cfg = self.G, self.D, self.cfg
        G.zero_grad(set_to_none=True)
        D.zero_grad(set_to_none=True)
        # Algorithm 1, lines 3-5: x_hat = G(z); feed x_hat and x into D
        x_hat = G(z, y)
        x_hat_d = x_hat.detach().requires_grad_(True)  # D's backward stops here
        p, p_hat = self.discriminate(x, x_hat_d, y)
        terms, stats, gammas = [], [], []
        for k, r in enumerate(self.runs):
            obj = r.objective
            terms.append(obj.loss_d(p[k], p_hat[k]))
            loss_g = obj.loss_g(p[k].detach(), p_hat[k].detach()).mean()
            # line 6: gamma_i by Eq. 7 at D's output, seed k's own
            gammas.append(per_image_gamma(per_sample_gamma(obj, p[k], p_hat[k])))
            stats.append(_d_stats(terms[k], loss_g) | _gamma_stats(gammas[k]))
        # line 8: one backward of every seed's L_D through D (the seeds do not mix)
        torch.stack([t["total"] for t in terms]).sum().backward()
        grad_x_hat = x_hat_d.grad
        gamma_ = torch.stack([g.gamma for g in gammas])
        if cfg.exact and not self.runs[0].objective.symmetric:
            grad_x_hat, gamma_ = self._recover_inactive(x_hat_d, y, gammas, grad_x_hat, gamma_,
                                                        stats)
        # line 9: grad_{x_hat_i} L_G = gamma_i * grad_{x_hat_i} L_D, back through G (the seeds'
        # samples end to end: the scale op outside vmap)
        scale_grad(x_hat.flatten(0, 1), gamma_.flatten()).backward(grad_x_hat.flatten(0, 1))
        self.opt_d.step()
        self.opt_g.step()
        self.after_d_step(terms)
        return stats

    def _recover_inactive(self, x_hat_d, y, gammas, grad_x_hat, gamma_, stats):
        """``exact=True``: each seed's inactive samples get G's gradient from an input-gradient
        pass of its own D seeded with dL_G/dp_hat_i (as :func:`osgan.steps._one_stage_backward`)."""
        grads, scales = [], []
        for k, g in enumerate(gammas):
            idx = g.inactive.nonzero().flatten()
            stats[k]["Exact/extra_samples"] = torch.tensor(float(idx.numel()))
            grad_k, gamma_k = grad_x_hat[k], gamma_[k]
            if idx.numel():
                x_in = x_hat_d.detach()[k][idx].requires_grad_(True)
                args = (x_in,) if y is None else (x_in, y[k][idx])
                with eval_mode(self.D.base), torch.enable_grad():
                    p_in = self.D.one(k, *args)
                    (grad_in,) = torch.autograd.grad(p_in, x_in, grad_outputs=g.dloss_g[idx])
                grad_k = grad_k.index_copy(0, idx, grad_in)
                gamma_k = gamma_k.index_fill(0, idx, 1.0)  # already G's gradient: unscaled
            grads.append(grad_k)
            scales.append(gamma_k)
        return torch.stack(grads), torch.stack(scales)

    def _two_stage(self, x, z, y) -> list[dict[str, Tensor]]:
        """:func:`osgan.steps.two_stage_step` over the stack."""
        G, D, variant = self.G, self.D, self.cfg.variant
        # Stage 1 (Eq. 13): fix G, update D on real and fake
        D.zero_grad(set_to_none=True)
        with torch.set_grad_enabled(variant == "reuse"):
            x_hat = G(z, y)
        p, p_hat = self.discriminate(x, x_hat.detach(), y)
        terms = [r.objective.loss_d(p[k], p_hat[k]) for k, r in enumerate(self.runs)]
        torch.stack([t["total"] for t in terms]).sum().backward()
        if variant != "simultaneous":
            self.opt_d.step()
            self.after_d_step(terms)
        # Stage 2 (Eq. 14): fix D, update G through D's input gradient
        G.zero_grad(set_to_none=True)
        D.requires_grad_(False)
        try:
            if variant != "reuse":  # each seed's second z, from its own noise generator
                z2 = torch.stack([torch.randn(z.shape[1:], dtype=z.dtype, device=z.device,
                                              generator=r.noise_gen) for r in self.runs])
                x_hat = G(z2, y)
            p_hat_g = D(x_hat, y)
            if self.runs[0].objective.g_reads_real:
                with torch.no_grad():
                    p_g = D(x, y)
            else:
                p_g = p.detach()  # unread by L_G
            loss_g = [r.objective.loss_g(p_g[k], p_hat_g[k]).mean()
                      for k, r in enumerate(self.runs)]
            torch.stack(loss_g).sum().backward()
        finally:
            D.requires_grad_(True)
        if variant == "simultaneous":  # D's gradient is stage 1's, untouched by stage 2
            self.opt_d.step()
            self.after_d_step(terms)
        self.opt_g.step()
        return [_d_stats(t, lg) for t, lg in zip(terms, loss_g)]


def setup(cfgs: list[TrainConfig], device: torch.device,
          images: data.ImageData | None = None,
          states: list[dict[str, Any] | None] | None = None) -> Ensemble:
    """Every seed set up as its separate run is (:func:`osgan.training._setup`: its own seeded
    weights and generators), sharing one copy of the data, restored from its checkpoint in
    ``states`` (None: afresh), then stacked: under the layout the seeds were started with, which
    must be one."""
    if images is None:
        c = cfgs[0]
        images = data.load(c.dataset, "train", data_root=c.data_root, image_size=c.image_size,
                           limit=c.data_limit).to(device)
    runs = [KIND.setup(c, device, images) for c in cfgs]
    for run, state in zip(runs, states or [None] * len(runs)):
        if state is not None:
            KIND.restore(run, state)
    other = next((r for r in runs if r.layout.arithmetic() != runs[0].layout.arithmetic()), None)
    if other is not None:
        raise UsageError(f"seeds of different layouts cannot stack: {other.cfg.run_dir()} was "
                         f"started with {other.layout.describe()}, {runs[0].cfg.run_dir()} with "
                         f"{runs[0].layout.describe()}; resume them alone (seeds per process 1)")
    ens = Ensemble(runs)
    ens.G.train()
    ens.D.train()
    ens.G.base.train()
    ens.D.base.train()
    return ens


# ---------------------------------------------------------------------------------------------
# the driver: runkind.run for K folders at once


def train(cfgs: list[TrainConfig]) -> list[TrainResult]:
    """Train the seeds ``cfgs`` (one cell's config, each seed with its own run folder) as one
    ensemble; each folder ends as :func:`osgan.training.train` leaves it. Refused in one line,
    with nothing written: no seed, configs that differ beyond :data:`OWN`, a folder another
    process holds (or any refusal of a separate run), checkpoints at different steps."""
    check(cfgs)
    cfg0 = cfgs[0]
    device = settings.resolve_device(cfg0.device)
    settings.set_threads(cfg0.threads)
    for c in cfgs:
        KIND.check(c)
    with contextlib.ExitStack() as held:
        folders, states = [], []
        for c in cfgs:  # a refusal releases the folders taken so far (and removes new ones)
            path, ckpt = KIND.paths(c)
            folder = held.enter_context(RunFolder(path, KIND.name, step_key=KIND.count,
                                                  checkpoint_dir=ckpt))
            states.append(folder.open(asdict(c), resume=c.resume, trajectory=KIND.trajectory,
                                      trajectory_defaults=KIND.trajectory_defaults,
                                      total=c.steps, total_key=KIND.length,
                                      overwrite=c.overwrite))
            folders.append(folder)
        starts = [s[KIND.count] if s is not None else 0 for s in states]
        if len(set(starts)) > 1:
            raise UsageError("the seeds' checkpoints are at different steps ("
                             + ", ".join(f"{f.path.name}: {s}" for f, s in zip(folders, starts))
                             + "); stack seeds that start together, or run them alone")
        return _run(cfgs, device, folders, states, starts[0])


def _run(cfgs, device, folders, states, start) -> list[TrainResult]:
    ens = setup(cfgs, device, states=states)  # before anything is written: no half-made folder
    K, count, total = len(cfgs), KIND.count, cfgs[0].steps
    evals = [Clock(device) for _ in range(K)]  # each seed's evaluation clock
    base = [0.0] * K  # each seed's training time before this process
    for k, state in enumerate(states):
        if state is not None:
            base[k], evals[k].eval = state["time_train"], state["time_eval"]
    ens.stack_in()
    clock = Clock(device)  # the ensemble's training clock, every seed's
    records = [f.begin({"config": asdict(c)} | KIND.meta(r), start)
               for f, c, r in zip(folders, cfgs, ens.runs)]
    grids = [f.path / "samples" if f.path is not None else None for f in folders]
    for g, state in zip(grids, states):
        if state is None and g is not None:  # afresh: the grids of a replaced run go
            for old in g.glob(f"{count}_*.png"):
                old.unlink()
    last = [{"step": start, "time": base[k]} for k in range(K)]
    failed: dict[int, RunFailed] = {}
    bar = progress(total, start, f"{KIND.describe(cfgs[0])} x{K} seeds", cfgs[0].progress,
                   unit=count)

    def handle_seed(k: int, i: int, stats: dict, events: set[str]) -> None:
        run, folder, now = ens.runs[k], folders[k], base[k] + clock.train
        if events & {"eval", "sample"}:
            ens.stack_out(k, everything=False)
        if events & (KIND.row_events | {"eval"}):
            parts = {"stats": KIND.statistics(run, stats)}
            folder.check_finite(i, parts["stats"])
            if i > last[k]["step"]:
                parts["Time/step"] = {"Time/step": (now - last[k]["time"]) / (i - last[k]["step"])}
            parts["Time/train"] = {"Time/train": now}
            last[k].update(step=i, time=now)
            if "eval" in events:
                with evals[k].evaluating():
                    parts["eval"] = KIND.evaluate(run)
            parts["Time/eval"] = {"Time/eval": evals[k].eval}
            row = {count: i}
            for part in KIND.row:
                row |= parts.get(part, {})
            records[k].append(row)
            folder.append(row)
            if k == next(j for j in range(K) if j not in failed):  # the first seed left
                bar.set_postfix(KIND.postfix(row), refresh=False)
        if "sample" in events and grids[k] is not None:
            KIND.sample(run, grids[k] / f"{count}_{i:06d}.png")
        if "checkpoint" in events:
            ens.stack_out(k)
            folder.save({count: i} | KIND.state(run) | {
                "time_train": now, "time_eval": evals[k].eval, "config": asdict(cfgs[k])},
                KIND.modules(run))

    def handle(i: int, stats: list[dict], events: set[str]) -> None:
        for k in range(K):
            if k in failed:
                continue
            try:
                handle_seed(k, i, stats[k], events)
            except RunFailed as e:  # this seed stops here; the others go on
                failed[k] = e
        if len(failed) == K:
            raise next(iter(failed.values()))

    try:
        loop(start, total, lambda i: ens.step(), KIND.schedule(cfgs[0]), clock, handle, bar)
    finally:
        bar.close()
    results = []
    for k, (run, folder) in enumerate(zip(ens.runs, folders)):
        if k in failed:
            continue
        ens.stack_out(k)
        summary = {KIND.length: total, "Time/train": base[k] + clock.train,
                   "Time/eval": evals[k].eval} | KIND.summary(run, records[k])
        folder.finish(summary)
        results.append(KIND.result(run, records[k], summary, folder))
    if failed:
        first = next(iter(failed.values()))
        raise RunFailed(f"{len(failed)} of {K} seeds stopped ({first}); the others finished")
    return results

