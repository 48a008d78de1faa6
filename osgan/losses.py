r"""The ten adversarial objectives of Table 1, as functions of the discriminator's outputs.

With :math:`p = D(x)` on real samples, :math:`\hat p = D(\hat x)` on fakes, :math:`\hat x = G(z)`
and :math:`\mathrm{softplus}(t) = \log(1 + e^t)`, each objective gives
:math:`\mathcal{L}_D(p, \hat p)` and :math:`\mathcal{L}_G(p, \hat p)`. Where one exists the Eq. 4 split

.. math:: \mathcal{L}_D = \mathcal{L}_D^r(p) + \mathcal{L}_D^f(\hat p)

is returned as ``real`` and ``fake`` components. Every term is returned *per sample*, with the
shape of D's output (``(B,)`` for one logit per image): the batch losses of the paper are their
means, which the callers take (``total`` is that mean already). Per-sample terms are what Eq. 7
and Eq. 9 read, and what a discriminator with several outputs per image needs. An objective is
*symmetric* (Sec. 3.1.1) when :math:`\mathcal{L}_G = -\mathcal{L}_D^f`; then Eq. 7 gives
:math:`\gamma_i = -1`.

D outputs a logit (no sigmoid) per sample, shape ``(B,)``: ``softplus(-p) = -log sigmoid(p)``,
so ``dcgan`` is Eq. 2 and ``dcgan_ns`` Eq. 3 written on logits.

In this implementation we:

* write every loss on logits for numerical stability (the paper writes them on probabilities);
* pair real sample ``i`` with fake sample ``i`` in RelGAN's relativistic loss (the paper's
  supplementary material, not available to us, may differ);
* put WGAN's weight clipping and Fisher GAN's Lagrange-multiplier update in
  :meth:`Objective.after_d_step`, which the training steps call after every D update;
* give SNGAN the hinge loss of GeoGAN; its spectral normalisation lives in the model
  (:func:`osgan.models.discriminator_for`).

Your own objective: :func:`custom` builds one from two functions returning per-sample terms,
detects symmetry on random outputs and registers it by name beside Table 1's.

``get(name)`` returns a fresh objective: Fisher GAN's multiplier is state, so never share one
between runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Terms = dict[str, Tensor]

_REGISTRY: dict[str, type[Objective]] = {}


def register(name: str) -> Callable[[type[Objective]], type[Objective]]:
    """Class decorator: make an objective available to :func:`get` under ``name``."""

    def wrap(cls: type[Objective]) -> type[Objective]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def names() -> list[str]:
    """The registered objective names, in Table 1's order."""
    return list(_REGISTRY)


SYMMETRIC = ("dcgan", "cgan", "wgan")
ASYMMETRIC = ("dcgan_ns", "lsgan", "geogan", "relgan", "fishergan", "bgan", "sngan")


def get(name: str, **kwargs) -> Objective:
    """A fresh objective by name; ``kwargs`` go to its constructor (e.g. ``rho`` of Fisher GAN)."""
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown GAN objective {name!r}; choose one of: {', '.join(names())}"
        ) from None
    return cls(**kwargs)


class Objective:
    """One GAN's pair of losses. Subclasses define :meth:`loss_d` and :meth:`loss_g`."""

    name: str = ""
    symmetric: bool = False  # L_G == -L_D^f (Sec. 3.1.1): gamma = -1, no need to compute it
    splits: bool = True  # L_D == L_D^r(p) + L_D^f(p_hat) (Eq. 4)
    conditional: bool = False  # G(z, y) and D(x, y)
    spectral_norm: bool = False  # D is spectrally normalised (SNGAN)
    g_reads_real: bool = False  # L_G reads D's outputs on real samples (RelGAN)
    reference: str = ""  # the defining paper

    def loss_d(self, p: Tensor, p_hat: Tensor) -> Terms:
        """``{"total": L_D, "real": (B,), "fake": (B,)}``: the batch loss (a scalar) and, where it
        splits (Eq. 4), the per-sample terms whose means add up to it."""
        raise NotImplementedError

    def loss_g(self, p: Tensor, p_hat: Tensor) -> Tensor:
        """:math:`\\mathcal{L}_G` per sample, shape of ``p_hat``; its mean is the batch loss. ``p`` is
        only read by objectives that need it (RelGAN)."""
        raise NotImplementedError

    # Optional closed forms of Eq. 7's two derivatives. Each returns, per output i,
    # N * dL/dp_hat_i for the batch loss L (a mean over the N outputs): for an objective that
    # splits (Eq. 4) that is the derivative of sample i's own term. ``None`` (the default) means
    # "not written out": osgan.scale.per_sample_gamma then takes them by autograd. It uses them only
    # where they are defined in the class that defines the loss (or below it), so a subclass that
    # changes a loss without its derivative falls back to autograd.
    def dloss_d(self, p: Tensor, p_hat: Tensor) -> Tensor | None:
        r""":math:`N\,\partial\mathcal{L}_D/\partial\hat p_i`, shape of ``p_hat``; or ``None``."""
        return None

    def dloss_g(self, p: Tensor, p_hat: Tensor) -> Tensor | None:
        r""":math:`N\,\partial\mathcal{L}_G/\partial\hat p_i`, shape of ``p_hat``; or ``None``."""
        return None

    def after_d_step(self, D: nn.Module, terms: Terms) -> None:
        """Called after each optimizer step of D with the ``terms`` of its loss."""

    def state_dict(self) -> dict[str, float]:
        return {}

    def load_state_dict(self, state: dict[str, float]) -> None:
        pass

    def __repr__(self) -> str:
        kind = "symmetric" if self.symmetric else "asymmetric"
        return f"{type(self).__name__}({self.name!r}, {kind})"


def _split(real: Tensor, fake: Tensor) -> Terms:
    # per-sample terms of Eq. 4; the batch loss is the sum of their means
    return {"total": real.mean() + fake.mean(), "real": real, "fake": fake}


@register("dcgan")
class DCGAN(Objective):
    """Symmetric (saturating) GAN loss, Eq. 2. Radford et al. 2016 / Goodfellow et al. 2014."""

    symmetric = True
    reference = "Radford, Metz, Chintala. Unsupervised representation learning with DCGANs. ICLR 2016."

    def loss_d(self, p, p_hat):
        # L_D = -log D(x) - log(1 - D(x_hat)) = softplus(-p) + softplus(p_hat)
        return _split(F.softplus(-p), F.softplus(p_hat))

    def loss_g(self, p, p_hat):
        # L_G = log(1 - D(x_hat)) = -softplus(p_hat) = -L_D^f
        return -F.softplus(p_hat)

    def dloss_d(self, p, p_hat):
        # d softplus(p_hat) / dp_hat = sigmoid(p_hat)
        return torch.sigmoid(p_hat)

    def dloss_g(self, p, p_hat):
        return -torch.sigmoid(p_hat)


@register("cgan")
class CGAN(DCGAN):
    """DCGAN's symmetric loss with G(z, y) and D(x, y). Mirza & Osindero 2014."""

    conditional = True
    reference = "Mirza, Osindero. Conditional generative adversarial nets. arXiv:1411.1784, 2014."


@register("wgan")
class WGAN(Objective):
    """Wasserstein GAN with weight clipping. Arjovsky, Chintala, Bottou, ICML 2017."""

    symmetric = True
    reference = "Arjovsky, Chintala, Bottou. Wasserstein generative adversarial networks. ICML 2017."

    def __init__(self, clip: float = 0.01):
        self.clip = clip

    def loss_d(self, p, p_hat):
        # L_D = -E[D(x)] + E[D(x_hat)]
        return _split(-p, p_hat)

    def loss_g(self, p, p_hat):
        # L_G = -D(x_hat) = -L_D^f
        return -p_hat

    def dloss_d(self, p, p_hat):
        return torch.ones_like(p_hat)

    def dloss_g(self, p, p_hat):
        return -torch.ones_like(p_hat)

    @torch.no_grad()
    def after_d_step(self, D, terms):
        # keep the critic (roughly) 1-Lipschitz: clip every weight to [-c, c]
        for w in D.parameters():
            w.clamp_(-self.clip, self.clip)


@register("dcgan_ns")
class DCGANNonSaturating(DCGAN):
    """Non-saturating DCGAN, Eq. 3 (the dagger row of Table 1). Arjovsky & Bottou, ICLR 2017."""

    symmetric = False
    reference = "Arjovsky, Bottou. Towards principled methods for training GANs. ICLR 2017."

    def loss_g(self, p, p_hat):
        # L_G = -log D(x_hat) = softplus(-p_hat)
        return F.softplus(-p_hat)

    def dloss_g(self, p, p_hat):
        # d softplus(-p_hat) / dp_hat = -sigmoid(-p_hat)
        return -torch.sigmoid(-p_hat)


@register("lsgan")
class LSGAN(Objective):
    """Least-squares GAN with 0-1 targets. Mao et al., ICCV 2017."""

    reference = "Mao et al. Least squares generative adversarial networks. ICCV 2017."

    def loss_d(self, p, p_hat):
        # L_D = 1/2 (D(x) - 1)^2 + 1/2 D(x_hat)^2
        return _split(0.5 * (p - 1).pow(2), 0.5 * p_hat.pow(2))

    def loss_g(self, p, p_hat):
        # L_G = 1/2 (D(x_hat) - 1)^2
        return 0.5 * (p_hat - 1).pow(2)

    def dloss_d(self, p, p_hat):
        return p_hat.clone()

    def dloss_g(self, p, p_hat):
        return p_hat - 1


@register("geogan")
class GeoGAN(Objective):
    """Geometric GAN: hinge loss for D, linear loss for G. Lim & Ye, arXiv 2017."""

    reference = "Lim, Ye. Geometric GAN. arXiv:1705.02894, 2017."

    def loss_d(self, p, p_hat):
        # L_D = max(0, 1 - D(x)) + max(0, 1 + D(x_hat))
        return _split(F.relu(1 - p), F.relu(1 + p_hat))

    def loss_g(self, p, p_hat):
        # L_G = -D(x_hat): equals -L_D^f only where the hinge is active, hence asymmetric
        return -p_hat

    def dloss_d(self, p, p_hat):
        # d max(0, 1 + p_hat) / dp_hat = 1 where the hinge is active (1 + p_hat > 0), else 0
        # (0 at the kink, as autograd's relu has it)
        return (p_hat > -1).to(p_hat.dtype)

    def dloss_g(self, p, p_hat):
        return -torch.ones_like(p_hat)


@register("relgan")
class RelGAN(Objective):
    """Relativistic standard GAN, real i paired with fake i. Jolicoeur-Martineau, ICLR 2019."""

    splits = False  # L_D depends on p - p_hat jointly
    g_reads_real = True
    reference = (
        "Jolicoeur-Martineau. The relativistic discriminator: a key element missing from "
        "standard GAN. ICLR 2019."
    )

    def loss_d(self, p, p_hat):
        # L_D = -log sigmoid(D(x) - D(x_hat)), per pair (x_i, x_hat_i)
        pair = F.softplus(-(p - p_hat))
        return {"total": pair.mean(), "pair": pair}

    def loss_g(self, p, p_hat):
        # L_G = -log sigmoid(D(x_hat) - D(x))
        return F.softplus(-(p_hat - p))

    def dloss_d(self, p, p_hat):
        # d softplus(p_hat - p) / dp_hat = sigmoid(p_hat - p)
        return torch.sigmoid(p_hat - p)

    def dloss_g(self, p, p_hat):
        # d softplus(p - p_hat) / dp_hat = -sigmoid(p - p_hat)
        return -torch.sigmoid(p - p_hat)


@register("fishergan")
class FisherGAN(Objective):
    """Fisher GAN: IPM with a second-order constraint by augmented Lagrangian. Mroueh & Sercu 2017.

    The critic maximises :math:`\\mathcal{E} + \\lambda(1 - \\Omega) - \\frac{\\rho}{2}(1 - \\Omega)^2`
    with :math:`\\mathcal{E} = E[p] - E[\\hat p]` and :math:`\\Omega = \\frac12(E[p^2] + E[\\hat p^2])`;
    after each critic step :math:`\\lambda \\leftarrow \\lambda - \\rho(1 - \\Omega)`.
    """

    splits = False  # Omega couples p and p_hat through (1 - Omega)^2
    reference = "Mroueh, Sercu. Fisher GAN. NeurIPS 2017."

    def __init__(self, rho: float = 1e-6):
        self.rho = rho
        # the Lagrange multiplier lambda: state, hence get() returns a fresh one. A 0-d tensor
        # that follows the device of D's outputs, so its update needs no host-device sync.
        self.lam = torch.zeros((), dtype=torch.float64)

    def loss_d(self, p, p_hat):
        lam = self.lam.to(p.device)  # read only: lambda changes in after_d_step alone
        E = p.mean() - p_hat.mean()
        Omega = 0.5 * (p.pow(2).mean() + p_hat.pow(2).mean())
        # L_D = -(E + lambda (1 - Omega) - rho/2 (1 - Omega)^2)
        total = -(E + lam * (1 - Omega) - 0.5 * self.rho * (1 - Omega).pow(2))
        return {"total": total, "E": E.detach(), "Omega": Omega.detach()}

    def loss_g(self, p, p_hat):
        # L_G = -D(x_hat)
        return -p_hat

    def dloss_d(self, p, p_hat):
        # N dL_D/dp_hat_i = 1 + (lambda - rho (1 - Omega)) p_hat_i, Omega of the whole batch
        lam = self.lam.to(p.device)
        Omega = 0.5 * (p.pow(2).mean() + p_hat.pow(2).mean())
        return 1 + (lam - self.rho * (1 - Omega)).to(p_hat.dtype) * p_hat

    def dloss_g(self, p, p_hat):
        return -torch.ones_like(p_hat)

    def after_d_step(self, D, terms):
        # lambda <- lambda - rho (1 - Omega), with Omega of the batch D was just updated on
        self.lam = self.lam.to(terms["Omega"].device) - self.rho * (1 - terms["Omega"])

    def state_dict(self):
        return {"lam": float(self.lam), "rho": self.rho}

    def load_state_dict(self, state):
        self.lam = torch.tensor(float(state["lam"]), dtype=torch.float64)
        self.rho = float(state["rho"])


@register("bgan")
class BGAN(DCGAN):
    """Boundary-seeking GAN: G pushes the logit to the decision boundary. Hjelm et al., ICLR 2018."""

    symmetric = False
    reference = "Hjelm et al. Boundary-seeking generative adversarial networks. ICLR 2018."

    def loss_g(self, p, p_hat):
        # L_G = 1/2 (log D(x_hat) - log(1 - D(x_hat)))^2 = 1/2 logit^2
        return 0.5 * p_hat.pow(2)

    def dloss_g(self, p, p_hat):
        return p_hat.clone()


@register("sngan")
class SNGAN(GeoGAN):
    """Spectrally normalised D with the hinge losses of GeoGAN. Miyato et al., ICLR 2018."""

    spectral_norm = True
    reference = "Miyato et al. Spectral normalization for generative adversarial networks. ICLR 2018."


# ---------------------------------------------------------------------------------------------
# your own objective

BUILTIN = tuple(_REGISTRY)  # Table 1's names: custom() may not take them


class CustomObjective(Objective):
    """An objective built by :func:`custom` from two functions of D's outputs."""

    reference = "custom (osgan.losses.custom)"
    _loss_d: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
    _loss_g: Callable[[Tensor, Tensor], Tensor]

    def loss_d(self, p, p_hat):
        real, fake = _user_loss_d(self.name, type(self)._loss_d, p, p_hat)
        return _split(real, fake)

    def loss_g(self, p, p_hat):
        return _user_loss_g(self.name, type(self)._loss_g, p, p_hat)


def _user_loss_d(name, fn, p, p_hat) -> tuple[Tensor, Tensor]:
    out = fn(p, p_hat)
    if not (isinstance(out, tuple | list) and len(out) == 2 and all(map(torch.is_tensor, out))):
        raise ValueError(f"{name}: loss_d must return a pair of tensors (real_terms, fake_terms); "
                         f"got {type(out).__name__}")
    for what, t, ref in (("real", out[0], p), ("fake", out[1], p_hat)):
        if t.shape != ref.shape:
            raise ValueError(f"{name}: loss_d's {what} terms have shape {tuple(t.shape)}, D's outputs "
                             f"{tuple(ref.shape)}: return one term per output, unreduced (no .mean(); "
                             "osgan takes the means)")
    return out[0], out[1]


def _user_loss_g(name, fn, p, p_hat) -> Tensor:
    out = fn(p, p_hat)
    if not torch.is_tensor(out) or out.shape != p_hat.shape:
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ValueError(f"{name}: loss_g must return one term per fake output, shape "
                         f"{tuple(p_hat.shape)}; got {shape}: do not reduce (no .mean())")
    return out


def _probe(name, loss_d, loss_g) -> dict[str, bool]:
    """What two loss functions are, read off random D outputs (float64, N(0, 3^2), 64 samples
    of 3 outputs each, so that a function reducing over the batch is caught too)."""
    gen = torch.Generator().manual_seed(0)
    p, p_hat = (3 * torch.randn(64, 3, generator=gen, dtype=torch.float64) for _ in range(2))
    p.requires_grad_(True)
    p_hat.requires_grad_(True)
    real, fake = _user_loss_d(name, loss_d, p, p_hat)
    lg = _user_loss_g(name, loss_g, p, p_hat)
    for what, t in (("loss_d", real), ("loss_d", fake), ("loss_g", lg)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name}: {what} is not finite on D outputs drawn from N(0, 3^2): write "
                             "it in a stable form (F.softplus(-p) for -log sigmoid(p))")
    zero = lambda t: t is None or bool((t == 0).all())  # noqa: E731
    # dL_D/dp_hat and dL_G/dp_hat (batch means), and who reads what
    d_real = torch.autograd.grad(real.sum(), [p, p_hat], allow_unused=True, retain_graph=True)
    d_fake = torch.autograd.grad(fake.sum(), [p, p_hat], allow_unused=True, retain_graph=True)
    d_g = torch.autograd.grad(lg.sum(), [p, p_hat], allow_unused=True)
    d_d_hat = sum(t for t in (d_real[1], d_fake[1]) if t is not None)
    if zero(d_g[1]):
        raise ValueError(f"{name}: loss_g does not depend on p_hat = D(G(z)): G would get no gradient")
    return {
        # Sec. 3.1.1: L_G = -L_D^f up to a constant, i.e. gamma_i = -1 for every output
        "symmetric": bool(torch.allclose(d_g[1], -d_d_hat, rtol=1e-10, atol=1e-12)),
        "splits": zero(d_real[1]) and zero(d_fake[0]),  # Eq. 4: real terms read p, fake p_hat
        "g_reads_real": not zero(d_g[0]),
    }


def custom(name: str, loss_d: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
           loss_g: Callable[[Tensor, Tensor], Tensor], symmetric: bool | None = None) -> Objective:
    r"""Your own objective from two functions of D's outputs ``p = D(x)`` and ``p_hat = D(G(z))``:

    * ``loss_d(p, p_hat) -> (real_terms, fake_terms)``: :math:`\mathcal{L}_D^r` per real output
      (shape of ``p``) and :math:`\mathcal{L}_D^f` per fake output (shape of ``p_hat``); the batch
      :math:`\mathcal{L}_D` is the sum of their means (Eq. 4);
    * ``loss_g(p, p_hat) -> terms``: :math:`\mathcal{L}_G` per fake output (shape of ``p_hat``).

    ``symmetric`` (:math:`\mathcal{L}_G = -\mathcal{L}_D^f`, so :math:`\gamma = -1`) is detected
    on random outputs when not given; declaring it wrongly is an error. Whether ``loss_g`` reads
    ``p`` (as RelGAN) and whether the terms split (real terms reading ``p`` only) are detected
    the same way. The objective is registered under ``name``, so ``get(name)`` and
    ``TrainConfig(gan=name)`` find it (in this process); calling ``custom`` again with the same
    name replaces it. Returns a fresh instance.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string; got {name!r}")
    if name in BUILTIN:
        raise ValueError(f"{name!r} is one of Table 1's objectives; choose another name "
                         f"(taken: {', '.join(BUILTIN)})")
    found = _probe(name, loss_d, loss_g)
    if symmetric and not found["symmetric"]:
        raise ValueError(f"{name}: declared symmetric, but loss_g is not -(fake terms of loss_d) on "
                         "random outputs (gamma != -1): leave symmetric=None to detect it")
    attrs = {
        "symmetric": found["symmetric"] if symmetric is None else bool(symmetric),
        "splits": found["splits"],
        "g_reads_real": found["g_reads_real"],
        "_loss_d": staticmethod(loss_d),
        "_loss_g": staticmethod(loss_g),
        "__doc__": f"Custom objective {name!r} (osgan.losses.custom).",
    }
    cls = type(f"Custom_{name}", (CustomObjective,), attrs)
    register(name)(cls)
    return cls()


def unregister(name: str) -> None:
    """Remove a :func:`custom` objective from the registry (Table 1's stay)."""
    if name in BUILTIN:
        raise ValueError(f"{name!r} is one of Table 1's objectives; only custom ones can be removed")
    _REGISTRY.pop(name, None)
