"""The ImageNet classifier around the backbone, as every SwinV2 release defines it: the last
stage through the final LayerNorm, global average pooling, one linear layer. It exists to
check a checkpoint before fine-tuning (tools/classify.py), not to train classifiers."""
from torch import Tensor, nn

from .swin_transformer_v2 import SwinTransformerV2


class SwinV2Classifier(nn.Module):
    """`backbone` (only the last stage's output, through its norm) -> mean over H, W -> head.

    The backbone's `norm{last}` is the classifier's final norm: the loader puts a
    checkpoint's final norm there.
    """

    def __init__(self, num_classes: int, **backbone_args) -> None:
        super().__init__()
        backbone_args.setdefault('drop_path_rate', 0.0)
        depths = backbone_args.get('depths') or SwinTransformerV2._resolve_arch(
            backbone_args.get('arch', 'tiny'), backbone_args.get('embed_dims'), None,
            backbone_args.get('num_heads'))['depths']
        self.backbone = SwinTransformerV2(out_indices=(len(depths) - 1,), **backbone_args)
        self.head = nn.Linear(self.backbone.num_features[-1], num_classes)

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, num_classes) logits."""
        features = self.backbone(images)[-1]
        return self.head(features.mean(dim=(2, 3)))
