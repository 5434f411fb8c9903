# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""ResNet-50 in plain torch.nn, with torchvision's module names, so that a torchvision ResNet-50
state_dict (a local WEIGHTS file) loads into it unchanged and gives the same outputs.

Why not torchvision.models.resnet50: `import torchvision` runs the package's __init__, which
imports models, ops, transforms and with them torch._dynamo: 3.5-6 s of every pod's start on the
H200 machine (docs/benchmarks.md, "Time to result"); this module imports in milliseconds.
torch >= 1.10 (JetPack 4.6) and Python >= 3.6; torch is passed in, never imported here."""

from __future__ import division, print_function

_CLASSES = {}


def _classes(nn):
    """(Bottleneck, ResNet) built on this torch's nn (made once per torch module). `kw` is the
    modules' factory arguments: {"device": ...} creates the parameters there (torch >= 1.9) and
    initialises them there: on the GPU, no CPU initialisation of 25 M parameters and no copy."""
    key = id(nn)
    if key in _CLASSES:
        return _CLASSES[key]

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None, kw=None):
            super(Bottleneck, self).__init__()
            kw = kw or {}
            self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, stride=1, bias=False, **kw)
            self.bn1 = nn.BatchNorm2d(planes, **kw)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False, **kw)
            self.bn2 = nn.BatchNorm2d(planes, **kw)
            self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, stride=1, bias=False, **kw)
            self.bn3 = nn.BatchNorm2d(planes * 4, **kw)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self, layers=(3, 4, 6, 3), num_classes=1000, kw=None):
            super(ResNet, self).__init__()
            self.kw = kw or {}
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False, **self.kw)
            self.bn1 = nn.BatchNorm2d(64, **self.kw)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(64, layers[0])
            self.layer2 = self._make_layer(128, layers[1], stride=2)
            self.layer3 = self._make_layer(256, layers[2], stride=2)
            self.layer4 = self._make_layer(512, layers[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes, **self.kw)
            for m in self.modules():  # torchvision's initialisation
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, kernel_size=1, stride=stride, bias=False,
                              **self.kw),
                    nn.BatchNorm2d(planes * Bottleneck.expansion, **self.kw))
            layers = [Bottleneck(self.inplanes, planes, stride, downsample, self.kw)]
            self.inplanes = planes * Bottleneck.expansion
            for _ in range(1, blocks):
                layers.append(Bottleneck(self.inplanes, planes, kw=self.kw))
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            x = self.avgpool(x)
            return self.fc(x.reshape(x.shape[0], -1))

    _CLASSES[key] = (Bottleneck, ResNet)
    return _CLASSES[key]


def factory_kwargs_supported(torch):
    """Whether modules take device= (torch >= 1.9; JetPack 4.6's 1.10 does)."""
    try:
        torch.nn.Linear(1, 1, device="cpu")
        return True
    except TypeError:
        return False


def resnet50(torch, num_classes=1000, device=None):
    """A randomly initialised ResNet-50 (torchvision's layout and initialisation), its parameters
    created and initialised on `device` (None: the CPU, the way every torch release can)."""
    kw = {"device": device} if device is not None else None
    return _classes(torch.nn)[1]((3, 4, 6, 3), num_classes, kw)
