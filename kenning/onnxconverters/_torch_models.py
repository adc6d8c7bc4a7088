"""``torch.nn`` architectures built offline for the PyTorch ONNX round trips.

Imported only by :mod:`kenning.onnxconverters.pytorch` when a model is built,
since defining ``nn.Module`` classes needs torch.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SHAPE = (1, 3, 64, 64)
SEQUENCE_SHAPE = (1, 16, 24)
NUM_CLASSES = 10


class PlainCNN(nn.Module):
    """Convolutions, pooling and a classifier: the VGG pattern in small."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, NUM_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block with a projection shortcut when the shape changes."""

    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(
                nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetSmall(nn.Module):
    """A ResNet-10: stem, four stages of basic blocks, global pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()
        )
        self.stages = nn.Sequential(
            BasicBlock(16, 16, 1),
            BasicBlock(16, 32, 2),
            BasicBlock(32, 64, 2),
            BasicBlock(64, 64, 1),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, NUM_CLASSES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion, 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, inputs: int, outputs: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = inputs * expansion
        self.residual = stride == 1 and inputs == outputs
        self.block = nn.Sequential(
            nn.Conv2d(inputs, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, outputs, 1, bias=False),
            nn.BatchNorm2d(outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetSmall(nn.Module):
    """Depthwise-separable MobileNetV2-style network."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU6(),
            InvertedResidual(16, 16, 1, 1),
            InvertedResidual(16, 24, 2, 4),
            InvertedResidual(24, 24, 1, 4),
            InvertedResidual(24, 32, 2, 4),
            InvertedResidual(32, 32, 1, 4),
            nn.Conv2d(32, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU6(),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, NUM_CLASSES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class RecurrentClassifier(nn.Module):
    """A recurrent layer over a sequence, classifying from the last step."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
        layers = 2 if kind == "lstm" else 1
        self.rnn = layer(SEQUENCE_SHAPE[2], 32, num_layers=layers, batch_first=True)
        self.head = nn.Linear(32, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(x)
        return self.head(outputs[:, -1])


class TransformerClassifier(nn.Module):
    """A two-layer transformer encoder with learned positions, mean-pooled."""

    def __init__(self) -> None:
        super().__init__()
        width = 32
        self.embed = nn.Linear(SEQUENCE_SHAPE[2], width)
        self.position = nn.Parameter(torch.randn(1, SEQUENCE_SHAPE[1], width) * 0.1)
        layer = nn.TransformerEncoderLayer(width, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(width, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(x) + self.position).mean(dim=1))


def build(name: str) -> nn.Module:
    """A seeded model in eval mode, batch-norm statistics set from random data.

    With the default running statistics (mean 0, variance 1) activations of
    a randomly initialised deep network shrink towards zero; one training-mode
    pass with ``momentum=1`` gives every batch norm realistic statistics.
    """
    torch.manual_seed(0)
    factories = {
        "plain_cnn": PlainCNN,
        "resnet_small": ResNetSmall,
        "mobilenet_small": MobileNetSmall,
        "lstm": lambda: RecurrentClassifier("lstm"),
        "gru": lambda: RecurrentClassifier("gru"),
        "rnn": lambda: RecurrentClassifier("rnn"),
        "transformer_encoder": TransformerClassifier,
    }
    model = factories[name]()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if norms:
        for norm in norms:
            norm.momentum = 1.0
        model.train()
        with torch.no_grad():
            model(torch.rand((16, *IMAGE_SHAPE[1:]), generator=torch.Generator().manual_seed(1)))
        for norm in norms:
            norm.momentum = 0.1
    return model.eval()
