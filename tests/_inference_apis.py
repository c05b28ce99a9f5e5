"""A user's script (tests/test_plugin.py runs it in a fresh process): mmdet's and mmseg's
inference APIs on Runner checkpoints, with no `import swinv2_mm` anywhere — the configs'
`custom_imports` bring the package in, as in a notebook.

argv[1]: JSON {"det"/"seg": {"config", "image", "checkpoints": {name: path}}}. Prints one
line `RESULT {json}`: per "api/name", ["ok", what the prediction holds] or ["error", message].
"""
import json
import sys
import warnings

warnings.filterwarnings('ignore')


def attempt(results, key, fn):
    try:
        results[key] = ['ok', fn()]
    except Exception as e:  # noqa: BLE001 - recorded for the test to judge
        text = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), '')
        results[key] = ['error', f'{type(e).__name__}: {text}'[:400]]


def detection(spec, results):
    from mmdet.apis import DetInferencer, inference_detector, init_detector

    def with_init_detector(ckpt):
        model = init_detector(spec['config'], ckpt, device='cpu')
        return len(inference_detector(model, spec['image']).pred_instances)

    def with_inferencer(ckpt):
        inferencer = DetInferencer(model=spec['config'], weights=ckpt, device='cpu',
                                   show_progress=False)
        out = inferencer(spec['image'], return_datasamples=True, no_save_vis=True)
        return len(out['predictions'][0].pred_instances)

    for name, ckpt in spec['checkpoints'].items():
        attempt(results, f'init_detector/{name}', lambda: with_init_detector(ckpt))
        attempt(results, f'DetInferencer/{name}', lambda: with_inferencer(ckpt))


def segmentation(spec, results):
    from mmseg.apis import MMSegInferencer, inference_model, init_model

    def with_init_model(ckpt):
        model = init_model(spec['config'], ckpt, device='cpu')
        return list(inference_model(model, spec['image']).pred_sem_seg.data.shape)

    def with_inferencer(ckpt):
        inferencer = MMSegInferencer(model=spec['config'], weights=ckpt, device='cpu')
        return list(inferencer(spec['image'], return_datasamples=True).pred_sem_seg.data.shape)

    for name, ckpt in spec['checkpoints'].items():
        attempt(results, f'init_model/{name}', lambda: with_init_model(ckpt))
        attempt(results, f'MMSegInferencer/{name}', lambda: with_inferencer(ckpt))


def main():
    spec = json.loads(sys.argv[1])
    results = {}
    # torch >= 2.6 refuses a Runner checkpoint in its own torch.load, before any config is
    # read and still after custom_imports imported swinv2_mm (which changes only mmengine's
    # checkpoint loading, what the APIs below go through).
    import torch
    first = next(iter(spec['det']['checkpoints'].values()))
    attempt(results, 'torch.load/before_custom_imports',
            lambda: sorted(torch.load(first, map_location='cpu')))
    detection(spec['det'], results)
    segmentation(spec['seg'], results)
    attempt(results, 'torch.load/after_custom_imports',
            lambda: sorted(torch.load(first, map_location='cpu')))
    print('RESULT ' + json.dumps(results))


if __name__ == '__main__':
    main()
