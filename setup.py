"""swinv2_mm: Swin Transformer V2 backbone for mmdetection 3.x and mmsegmentation 1.x."""
from setuptools import find_packages, setup

setup(
    name='swinv2_mm',
    version='0.1.0',
    description='Swin Transformer V2 backbone for OpenMMLab (mmdet 3.x, mmseg 1.x): '
    'exact, loads every public SwinV2 checkpoint format, fused attention.',
    long_description=open('README.md', encoding='utf-8').read()
    if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['swinv2_mm', 'swinv2_mm.*']),
    # The backbone needs only these; mmdet / mmseg / mmcv are what the user's task brings.
    # The pinned, tested stack is requirements/env.txt + requirements/constraints.txt.
    install_requires=['torch>=2.1', 'mmengine>=0.10,<1.0', 'safetensors>=0.4'],
    extras_require={
        'det': ['mmcv>=2.0.0,<2.2.0', 'mmdet>=3.0,<3.4', 'pycocotools'],
        'seg': ['mmcv>=2.0.0,<2.2.0', 'mmsegmentation>=1.0,<1.3', 'ftfy', 'regex'],
    },
)
