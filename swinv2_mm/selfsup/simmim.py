"""SimMIM (Xie et al., "SimMIM: a Simple Framework for Masked Image Modeling", CVPR 2022) for
the SwinV2 backbone: the self-supervised stage of the SwinV2 paper.

    image -> SwinTransformerV2(x, mask) (masked patch embeddings replaced by `mask_token`)
          -> last stage (B, C, H/32, W/32) -> SimMIMLinearDecoder (1x1 conv, PixelShuffle(32))
          -> reconstruction (B, 3, H, W) -> L1 on the masked pixels (optionally against the
             locally normalised image, the official NORM_TARGET)

State-dict names: `backbone.*` (exactly a detector's backbone keys, plus `backbone.mask_token`)
and `decoder.0.{weight,bias}` (the official and transformers names), so a pre-training
checkpoint feeds `init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')`.
"""
import os
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel, Sequential
from mmengine.model.weight_init import initialize
from mmengine.registry import MODELS
from mmengine.structures import BaseDataElement
from torch import Tensor, nn

# ImageNet mean / std on 0..255 RGB: the official recipe's Normalize after ToTensor.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def _pretrained_and_other_cfgs(init_cfg) -> Tuple[List[dict], List[dict]]:
    cfgs = [] if not init_cfg else ([init_cfg] if isinstance(init_cfg, dict) else list(init_cfg))
    pretrained = [c for c in cfgs if c.get('type') == 'Pretrained']
    return pretrained, [c for c in cfgs if c.get('type') != 'Pretrained']


@MODELS.register_module()
class SimMIMLinearDecoder(Sequential):
    """The last stage's map back to pixels: Conv2d(in_channels, stride² · out_channels, 1)
    then PixelShuffle(stride). Keys `0.weight`, `0.bias` (`decoder.0.*` inside SimMIM).

    init_cfg=dict(type='Pretrained', checkpoint=...) takes the decoder out of any SimMIM
    checkpoint (official, transformers, this package's); other mmengine initializers apply
    as usual. Without one the conv keeps PyTorch's default init, as in the official code.
    """

    def __init__(self, in_channels: int, encoder_stride: int = 32, out_channels: int = 3,
                 init_cfg: Union[dict, List[dict], None] = None) -> None:
        for name, value in (('in_channels', in_channels), ('encoder_stride', encoder_stride),
                            ('out_channels', out_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f'SimMIMLinearDecoder: invalid {name}={value!r}; it must be '
                                 'an int >= 1')
        super().__init__(
            nn.Conv2d(in_channels, encoder_stride**2 * out_channels, kernel_size=1),
            nn.PixelShuffle(encoder_stride), init_cfg=init_cfg)
        self.encoder_stride = encoder_stride

    def init_weights(self) -> None:
        pretrained, others = _pretrained_and_other_cfgs(self.init_cfg)
        if others:
            initialize(self, others)
        for cfg in pretrained:
            from .checkpoint import load_decoder
            load_decoder(self, os.fspath(cfg['checkpoint']))
        self._is_init = True


def _box_sum(x: Tensor, window: int) -> Tensor:
    """Sum over each pixel's window x window neighbourhood (zero outside the image), from an
    integral image: O(1) per pixel, where avg_pool2d's 47 x 47 kernel costs 2209 reads per
    pixel (seconds per batch on a CPU)."""
    pad = window // 2
    integral = F.pad(x, (pad + 1, pad, pad + 1, pad)).cumsum(-1).cumsum(-2)
    return (integral[..., window:, window:] - integral[..., :-window, window:]
            - integral[..., window:, :-window] + integral[..., :-window, :-window])


def _local_statistics64(x: Tensor, window: int) -> Tuple[Tensor, Tensor]:
    count = _box_sum(x.new_ones((1, 1) + x.shape[-2:]), window)  # pixels inside each window
    mean = _box_sum(x, window) / count
    var = (_box_sum(x * x, window) / count - mean * mean) * (count / (count - 1))
    return mean, (var.clamp(min=0.0) + 1e-6).sqrt()


def local_statistics(image: Tensor, window: int = 47) -> Tuple[Tensor, Tensor]:
    """Per pixel and channel, the mean and the unbiased standard deviation (with the official
    1e-6 inside the root) of its window x window neighbourhood, which the image's border
    crops: what the official NORM_TARGET normalises with. Computed in float64 (the integral
    image's differences need it), returned in the image's dtype."""
    mean, std = _local_statistics64(image.double(), window)
    return mean.to(image.dtype), std.to(image.dtype)


def normalise_target(image: Tensor, window: int = 47) -> Tensor:
    """The official NORM_TARGET: each pixel minus its neighbourhood's mean, over its
    neighbourhood's standard deviation (local_statistics)."""
    x = image.double()
    mean, std = _local_statistics64(x, window)
    return ((x - mean) / std).to(image.dtype)


@MODELS.register_module()
class SimMIMReconstructionLoss(nn.Module):
    """L1 between the target and the reconstruction on masked pixels only:
    sum(|target - rec| · mask) / (sum(mask) + eps) / channels (the official and transformers
    formula). norm_target=True compares with the locally normalised image (the official
    NORM_TARGET, window 47 in the SwinV2-B recipe) instead of the image itself.

    Computed in float32 whatever the autocast dtype: a sum over every pixel of a batch
    overflows float16, and the target's variance needs float32 around its 1e-6.
    """

    def __init__(self, norm_target: bool = False, norm_target_window: int = 47,
                 eps: float = 1e-5) -> None:
        super().__init__()
        if not isinstance(norm_target, bool):
            raise TypeError(f'SimMIMReconstructionLoss: norm_target={norm_target!r} must be '
                            'True or False')
        if not isinstance(norm_target_window, int) or isinstance(norm_target_window, bool) \
                or norm_target_window < 3 or norm_target_window % 2 == 0:
            raise ValueError(f'SimMIMReconstructionLoss: norm_target_window='
                             f'{norm_target_window!r} must be an odd int >= 3 (official: 47)')
        self.norm_target = norm_target
        self.norm_target_window = norm_target_window
        self.eps = float(eps)

    def target(self, image: Tensor) -> Tensor:
        """What the reconstruction is compared with (float32, no gradient)."""
        image = image.detach().float()
        return normalise_target(image, self.norm_target_window) if self.norm_target else image

    def forward(self, reconstruction: Tensor, image: Tensor, pixel_mask: Tensor) -> Tensor:
        with torch.autocast(reconstruction.device.type, enabled=False):
            l1 = F.l1_loss(self.target(image), reconstruction.float(), reduction='none')
            mask = pixel_mask.to(l1.dtype)
            return (l1 * mask).sum() / (mask.sum() + self.eps) / l1.shape[1]


@MODELS.register_module()
class SimMIM(BaseModel):
    """SimMIM pre-training: a SwinTransformerV2 with a mask token, the linear decoder and the
    masked L1 loss. Built by mmengine's Runner from a config (configs/simmim/).

    Args:
        backbone: the SwinTransformerV2 config; `use_mask_token` is switched on and
            `out_indices` defaults to the last stage (the only output SimMIM reads).
        decoder: SimMIMLinearDecoder config; in_channels, encoder_stride (patch size ·
            2^(stages - 1), 32 for SwinV2) and out_channels follow the backbone.
        loss: SimMIMReconstructionLoss config (norm_target, norm_target_window).
        data_preprocessor: defaults to mmengine's ImgDataPreprocessor with ImageNet's
            mean and std on RGB images (the official recipe).
        init_cfg: dict(type='Pretrained', checkpoint=...) loads a whole SimMIM checkpoint
            (official release or pre-training file, transformers Swinv2ForMaskedImageModeling,
            this package's): backbone, mask token and decoder, each where the file has it.

    Every sample needs a token mask (B, H/4, W/4) in `data_samples[i].mask`
    (SimMIMMaskGenerator + PackSimMIMInputs in the pipeline).
    """

    def __init__(self, backbone: dict, decoder: Optional[dict] = None,
                 loss: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Union[dict, List[dict], None] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ImgDataPreprocessor', mean=IMAGENET_MEAN,
                                     std=IMAGENET_STD, bgr_to_rgb=False)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        backbone = dict(backbone)
        backbone.setdefault('type', 'SwinTransformerV2')
        if backbone.get('use_mask_token', True) is not True:
            raise ValueError('SimMIM: the backbone needs its mask token; leave '
                             'use_mask_token out or set it to True')
        backbone['use_mask_token'] = True
        backbone.setdefault('out_indices', (3,))
        self.backbone = MODELS.build(backbone)
        last = self.backbone.num_stages - 1
        if tuple(self.backbone.out_indices) != (last,):
            raise ValueError(f'SimMIM: backbone.out_indices={self.backbone.out_indices}; SimMIM '
                             f'decodes the last stage only: set out_indices=({last},)')
        self.patch_size = self.backbone.patch_embed.patch_size
        self.encoder_stride = self.patch_size * 2**last

        decoder = dict(decoder or {})
        decoder.setdefault('type', 'SimMIMLinearDecoder')
        decoder.setdefault('in_channels', self.backbone.num_features[last])
        decoder.setdefault('encoder_stride', self.encoder_stride)
        decoder.setdefault('out_channels', self.backbone.in_channels)
        if decoder['encoder_stride'] != self.encoder_stride:
            raise ValueError(f'SimMIM: decoder.encoder_stride={decoder["encoder_stride"]}, but '
                             f'the backbone\'s last stage has stride {self.encoder_stride}; the '
                             'reconstruction would not be the image\'s size. Leave it out.')
        self.decoder = MODELS.build(decoder)
        loss = dict(loss or {})
        loss.setdefault('type', 'SimMIMReconstructionLoss')
        self.reconstruction_loss = MODELS.build(loss)

    def init_weights(self) -> None:
        """The children's own init (and mmengine's initializers), then a whole-model
        Pretrained checkpoint if init_cfg names one."""
        pretrained, others = _pretrained_and_other_cfgs(self.init_cfg)
        saved, self.init_cfg = self.init_cfg, (others or None)
        try:
            super().init_weights()
        finally:
            self.init_cfg = saved
        for cfg in pretrained:
            from .checkpoint import load_simmim
            load_simmim(self, os.fspath(cfg['checkpoint']))

    # -- the computation -----------------------------------------------------------------
    def token_mask(self, mask: Tensor, images: Tensor) -> Tensor:
        """(B, h, w) token mask for images (B, C, H, W); also takes transformers'
        (B, h * w) `bool_masked_pos`. Checks the sizes SimMIM needs."""
        B, _, H, W = images.shape
        s = self.encoder_stride
        if H % s or W % s:
            raise ValueError(f'SimMIM: images are {H}x{W}; pre-training needs sides that are '
                             f'multiples of {s} (the last stage\'s stride), e.g. '
                             f'RandomResizedCrop to 192')
        h, w = H // self.patch_size, W // self.patch_size
        if tuple(mask.shape) not in ((B, h, w), (B, h * w)):
            raise ValueError(f'SimMIM: token mask of shape {tuple(mask.shape)} for {B} images '
                             f'of {H}x{W}; expected ({B}, {h}, {w}): one entry per '
                             f'{self.patch_size}x{self.patch_size} patch (SimMIMMaskGenerator '
                             f'with model_patch_size={self.patch_size} and input_size={H})')
        return mask.reshape(B, h, w)

    def reconstruct(self, images: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """(B, C, H, W) normalised images, (B, h, w) token mask -> reconstruction (B, C, H, W)
        (in the target's space: locally normalised pixels when norm_target is on)."""
        if mask is not None:
            mask = self.token_mask(mask, images)
        return self.decoder(self.backbone(images, mask)[0])

    def pixel_mask(self, mask: Tensor) -> Tensor:
        """(B, h, w) token mask -> (B, 1, H, W), each token over its patch."""
        p = self.patch_size
        return mask.repeat_interleave(p, 1).repeat_interleave(p, 2).unsqueeze(1)

    def loss_and_reconstruction(self, images: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]:
        mask = self.token_mask(mask, images)
        reconstruction = self.reconstruct(images, mask)
        return self.reconstruction_loss(reconstruction, images, self.pixel_mask(mask)), \
            reconstruction

    # -- mmengine's BaseModel interface --------------------------------------------------
    @staticmethod
    def masks_of(data_samples: Optional[List[BaseDataElement]]) -> Tensor:
        if not data_samples or not all('mask' in ds for ds in data_samples):
            raise ValueError('SimMIM: every sample needs its token mask (data_samples[i].mask):'
                             ' put SimMIMMaskGenerator and PackSimMIMInputs at the end of the '
                             'pipeline')
        return torch.stack([ds.mask for ds in data_samples])

    def loss(self, inputs: Tensor, data_samples: List[BaseDataElement]) -> Dict[str, Tensor]:
        loss, _ = self.loss_and_reconstruction(inputs, self.masks_of(data_samples))
        return dict(loss=loss)

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[BaseDataElement]] = None) -> List[BaseDataElement]:
        """Each sample's reconstruction (C, H, W) and pixel mask (1, H, W)."""
        mask = self.token_mask(self.masks_of(data_samples), inputs)
        reconstruction = self.reconstruct(inputs, mask)
        pixel_mask = self.pixel_mask(mask)
        return [BaseDataElement(reconstruction=r, pixel_mask=m)
                for r, m in zip(reconstruction, pixel_mask)]

    def forward(self, inputs: Tensor, data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            mask = self.masks_of(data_samples) if data_samples else None
            return self.reconstruct(inputs, mask)
        raise ValueError(f'SimMIM: mode={mode!r}; use "loss", "predict" or "tensor"')
