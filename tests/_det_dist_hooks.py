"""A hook for tests/test_detection.py's distributed test: every rank saves its parameters
(before and after training) so that the test can compare the ranks' weights."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class SaveRankParamsHook(Hook):

    def _save(self, runner, tag):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        params = {k: v.detach().clone() for k, v in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir, f'params_{tag}_rank{get_rank()}.pth'))

    def before_train(self, runner):
        self._save(runner, 'before')

    def after_train(self, runner):
        self._save(runner, 'after')
