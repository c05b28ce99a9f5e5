"""Deployment: ONNX export with dynamic input size, checked with onnxruntime.

Export-time rewrites live here, beside engine/, and read only the public submodules and
attributes of the models (see swin_rewrite). Importing this package imports torch only;
mmdet/mmseg/onnx are imported by the functions that need them.
"""
from .models import (BackboneExport, DetectorFeatureExport, DynamicAdaptiveAvgPool2d,
                     SegmentorExport)
from .onnx_export import (ExportModel, benchmark, check_sizes, describe_size, export_onnx,
                          load_export_model, verify)
from .swin_rewrite import swin_v2_forward

__all__ = ['BackboneExport', 'DetectorFeatureExport', 'DynamicAdaptiveAvgPool2d',
           'ExportModel', 'SegmentorExport', 'benchmark', 'check_sizes',
           'describe_size', 'export_onnx', 'load_export_model', 'swin_v2_forward', 'verify']
