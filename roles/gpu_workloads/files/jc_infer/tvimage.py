# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""torchvision's JPEG decoders (nvJPEG on CUDA, libjpeg on the CPU) without `import torchvision`.

`import torchvision` runs the package's __init__, which imports models, ops, transforms and
torch._dynamo (3.5-6 s per pod on the H200 machine). The decoders live in the package's image
extension (torchvision/image.so), which needs torch's libraries but not the package's Python:
with torchvision >= 0.19 (batched nvJPEG) it is loaded on its own with torch.ops.load_library and
its operators called as torchvision.io calls them (torch.ops.image.decode_jpegs_cuda /
decode_jpeg / decode_image). Older torchvision (the Jetsons' 0.11), an extension that is not
where it is expected, or TORCHVISION_IMAGE_OPS=package: the package's torchvision.io, as before.
Python >= 3.6; torch is passed in."""

from __future__ import division, print_function

import importlib
import os
import re
import sys

from .compat import version_tuple

RGB = 3  # torchvision.io.ImageReadMode.RGB.value, the same in every release


def find_torchvision():
    """(package directory, version string) of the installed torchvision, without importing it;
    (None, None) when there is none."""
    module = sys.modules.get("torchvision")
    if module is not None:
        return os.path.dirname(module.__file__), module.__version__
    try:
        import importlib.util
        spec = importlib.util.find_spec("torchvision")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return None, None
    root = os.path.dirname(spec.origin)
    version = None
    try:
        with open(os.path.join(root, "version.py")) as handle:
            found = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", handle.read(), re.M)
        version = found.group(1) if found else None
    except (IOError, OSError):
        pass
    return root, version


def _extension_path(root, name):
    import importlib.machinery
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(root, name + suffix)
        if os.path.isfile(path):
            return path
    return None


class ImageOps(object):
    """decode_jpeg(tensor or list, device) and decode_image(tensor) in RGB, as torchvision.io's;
    `source` says how they were reached: "extension" (image.so alone) or "package"."""

    def __init__(self, torch, environ=None):
        environ = os.environ if environ is None else environ
        self.torch = torch
        self.root, self.version = find_torchvision()
        if self.root is None:
            raise ImportError("torchvision is not installed")
        self.source = None
        want = environ.get("TORCHVISION_IMAGE_OPS", "auto").strip().lower() or "auto"
        if want != "package" and "torchvision" not in sys.modules \
                and version_tuple(self.version or "0") >= (0, 19):
            path = _extension_path(self.root, "image")
            if path is not None:
                try:
                    torch.ops.load_library(path)
                    ops = torch.ops.image
                    self._jpegs_cuda, self._jpeg, self._image = \
                        ops.decode_jpegs_cuda, ops.decode_jpeg, ops.decode_image
                    self.source = "extension"
                except (OSError, RuntimeError, AttributeError):
                    self.source = None
        if self.source is None:
            io = importlib.import_module("torchvision.io")
            self.version = sys.modules["torchvision"].__version__
            self._io = io
            self.source = "package"

    def decode_jpeg(self, data, device):
        """One CPU tensor of file bytes, or a list of them (torchvision >= 0.19), decoded to RGB on device."""
        if self.source == "package":
            return self._io.decode_jpeg(data, mode=self._io.ImageReadMode.RGB, device=device)
        if device.type == "cuda":
            if isinstance(data, list):
                return self._jpegs_cuda(data, RGB, device)
            return self._jpegs_cuda([data], RGB, device)[0]
        if isinstance(data, list):
            return [self._jpeg(d, RGB, False) for d in data]
        return self._jpeg(data, RGB, False)

    def decode_image(self, data):
        """Any format torchvision reads (libjpeg, libpng, ...), on the CPU, RGB."""
        if self.source == "package":
            return self._io.decode_image(data, mode=self._io.ImageReadMode.RGB)
        return self._image(data, RGB, False)
