# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""From a decoded image to normalized model input: the crop geometry, Pillow's path, the GPU path."""

from __future__ import division, print_function

from .compat import signature_parameters, version_tuple

RESIZE_SHORT = 256  # ImageNet evaluation: shorter side to 256, centre crop 224
CROP = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def crop_box(height, width, resize_short=RESIZE_SHORT, crop=CROP):
    """(top, left, box_h, box_w) of the source region that "shorter side to resize_short, then
    centre-crop crop x crop" keeps. Resampling that box straight to crop x crop is the same
    transform in one pass over fewer pixels."""
    scale = resize_short / min(height, width)
    side = max(1, int(round(crop / scale)))
    box_h, box_w = min(height, side), min(width, side)
    return (height - box_h) // 2, (width - box_w) // 2, box_h, box_w


def pil_crop_resize(path, resize_short=RESIZE_SHORT, crop=CROP):
    """Decode one file with Pillow and return the crop x crop RGB image (antialiased resample)."""
    from PIL import Image

    with open(path, "rb") as handle:
        img = Image.open(handle)
        # DCT-domain downscale of large JPEGs; Pillow keeps the result at least this size.
        img.draft("RGB", (resize_short, resize_short))
        img = img.convert("RGB")
    width, height = img.size
    top, left, box_h, box_w = crop_box(height, width, resize_short, crop)
    return img.resize((crop, crop), Image.BILINEAR, box=(left, top, left + box_w, top + box_h))



class Preprocessing(object):
    """Turning decoded images into normalized model input on the device; shared by the inference
    process (Runtime) and the decode process (DecodeSide). Needs torch, image_ops, device, cuda,
    dtype, memory_format and batch_size set."""

    def _init_preprocessing(self):
        torch = self.torch
        self.mean = (torch.tensor(MEAN).reshape(1, 3, 1, 1) * 255.0).to(self.device)
        self.inv_std = (1.0 / (torch.tensor(STD).reshape(1, 3, 1, 1) * 255.0)).to(self.device)
        self.antialias = "antialias" in signature_parameters(torch.nn.functional.interpolate)
        ops = getattr(self, "image_ops", None)
        self.batched_nvjpeg = ops is not None and version_tuple(ops.version) >= (0, 19)  # decode_jpeg(list)

    def normalize_nhwc(self, x_uint8_nhwc):
        """uint8 NHWC batch (pinned CPU or device) -> normalized model input, dtype, channels_last.
        Copied as it is (the 4 times smaller uint8, asynchronously from pinned memory), then seen as
        NCHW, which for NHWC storage is exactly the channels_last layout."""
        x = x_uint8_nhwc.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        x = (x - self.mean) * self.inv_std
        return x.to(dtype=self.dtype, memory_format=self.memory_format)

    def gpu_crop_resize(self, images):
        """Decoded uint8 CHW device tensors -> normalized (N, 3, 224, 224) batch. Images of one shape
        are stacked and resampled together: one interpolate per distinct shape, not per image."""
        torch = self.torch
        out = torch.empty((len(images), 3, CROP, CROP), dtype=self.dtype, device=self.device) \
            .contiguous(memory_format=self.memory_format)
        groups = {}
        for i, img in enumerate(images):
            groups.setdefault((int(img.shape[1]), int(img.shape[2])), []).append(i)
        kwargs = {"mode": "bilinear", "align_corners": False}
        if self.antialias:
            kwargs["antialias"] = True
        for (height, width), idx in groups.items():
            top, left, box_h, box_w = crop_box(height, width)
            stacked = torch.stack([images[i] for i in idx])[:, :, top:top + box_h, left:left + box_w]
            x = torch.nn.functional.interpolate(stacked.float(), size=(CROP, CROP), **kwargs)
            x = ((x - self.mean) * self.inv_std).to(dtype=self.dtype)
            if len(idx) == len(images):
                out.copy_(x)
            else:
                out[torch.tensor(idx, device=self.device)] = x
        return out

