r"""CIFAR ResNet-18 and ResNet-34 (He et al. 2016), the teacher and student of Table 2.

The paper's distillation experiment (Sec. 4.4) follows DFAD (Fang et al. 2019): a ResNet-34
teacher (21.3M parameters) and a ResNet-18 student (11.2M) on 32x32 CIFAR images. Both are the
CIFAR variant of the ImageNet networks: a 3x3 stride-1 stem without max-pooling, four stages of
basic blocks with (64, 128, 256, 512) channels, global average pooling and one linear layer.

In this implementation we add a ``width`` argument (the channels of the first stage, 64 in the
paper) so that the tests can build the same architecture tiny enough to run in seconds on a CPU.
With ``width=64`` and 10 classes the parameter counts are the paper's (checked in the tests).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

# blocks per stage: ResNet-18 and ResNet-34 differ only here
DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """x (B, C, 32, 32) -> logits (B, num_classes)."""

    def __init__(self, depth: int = 18, num_classes: int = 10, channels: int = 3, width: int = 64):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"depth must be one of {sorted(DEPTHS)}; got {depth}")
        self.depth, self.num_classes, self.width = depth, num_classes, width
        self.conv1 = nn.Conv2d(channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        stages, c_in = [], width
        for i, n_blocks in enumerate(DEPTHS[depth]):
            c_out = width * 2**i  # 64, 128, 256, 512 at width 64
            stride = 1 if i == 0 else 2  # 32x32 -> 32, 16, 8, 4
            blocks = [BasicBlock(c_in, c_out, stride)]
            blocks += [BasicBlock(c_out, c_out, 1) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.stages(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)  # (B, 8 * width)
        return self.fc(out)


def resnet18(num_classes: int = 10, channels: int = 3, width: int = 64) -> ResNet:
    return ResNet(18, num_classes, channels, width)


def resnet34(num_classes: int = 10, channels: int = 3, width: int = 64) -> ResNet:
    return ResNet(34, num_classes, channels, width)
