from .swin_transformer_v2 import SwinTransformerV2

__all__ = ['SwinTransformerV2']
