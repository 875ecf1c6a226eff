"""Inference speed of BoIR beside its reference and MMPose's CID (W32, CPU,
one thread by default; docs/usage.md, "Speed"): ``python tools/benchmark.py``.

``ours`` (``BoIRHead.predict`` after ``switch_to_fast_inference``),
``reference`` (same weights, the release's arithmetic the release's way:
:func:`direct_form` and :func:`reference_decode` below, NCHW) and ``cid``
(MMPose's CID, BoIR's backbone) in alternating runs on one input, flip test,
``--instances`` people (center threshold -1).
"""
import argparse
import copy
import ctypes
import functools
import json
import os.path as osp
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config

import mmpose_boir  # noqa: F401  (registration)
from mmpose_boir.deploy import (build_deploy_model, export_onnx, preprocess,
                                switch_to_fast_inference)
from mmpose_boir.models.utils import sigmoid_clamped

IMAGE = osp.abspath(osp.join(__file__, '..', '..', 'demo', '000000196141.jpg'))
NAMES = ('ours', 'reference', 'cid')


def direct_form(head, feats, params, coords, img_ids):
    """The instance keypoint head (an ``InstanceKeypointHead``'s weights) as
    the release's ``InstKptHead`` computes it: per instance a copy of its
    image's decoupled features, channel- and spatially-modulated (the mask
    as the head's), concatenated into ``[N, 2C, H, W]``, fused by the 1x1
    conv, InstanceNorm, ReLU."""
    g = head.conv_down(feats)[img_ids]
    ca, sa = head.channel_attention, head.spatial_attention
    fsum = (g * sa.atn(params)[:, :, None, None]).sum(1, keepdim=True)
    fused = torch.cat((g * ca.atn(params)[:, :, None, None],
                       g * sa.mask(fsum, coords)), 1)
    return head.heatmap_conv(F.relu(head.fuse_attention(fused)))


def reference_decode(heatmaps, scores, stride, kernel=3):
    """Instance heatmap decoding with a Python loop over instances and
    keypoints (as MMPose's ``DecoupledHeatmap.decode`` + ``refine_keypoints``
    do) after the release's smoothing: ``heatmaps`` [N, K, H, W], ``scores``
    [N] -> keypoints [N, K, 2] in input pixels, keypoint scores [N, K]."""
    N, K, H, W = heatmaps.shape
    kpts, kpt_scores = np.zeros((N, K, 2), np.float32), np.zeros((N, K))
    pooled = F.avg_pool2d(heatmaps, kernel, 1, (kernel - 1) // 2)
    for n in range(N):
        hm = ((heatmaps[n] + pooled[n]) / 2).cpu().numpy()
        for k in range(K):
            y, x = divmod(int(hm[k].argmax()), W)
            px, py = float(x), float(y)
            if 0 < x < W - 1:
                px += 0.25 * np.sign(hm[k, y, x + 1] - hm[k, y, x - 1])
            if 0 < y < H - 1:
                py += 0.25 * np.sign(hm[k, y + 1, x] - hm[k, y - 1, x])
            kpts[n, k] = (px * stride + stride / 2, py * stride + stride / 2)
            kpt_scores[n, k] = hm[k, y, x] * float(scores[n])
    return kpts, kpt_scores.astype(np.float32)


def predict_reference(model, x, samples):
    """The release's way, NCHW (``model`` is not switched)."""
    head, cfg = model.head, model.test_cfg
    f = torch.cat((model.extract_feat(x)[-1],
                   model.extract_feat(x.flip(-1))[-1].flip(-1)))
    center = sigmoid_clamped(head.forward([f], with_aux=False)['center'])
    scores, coords, ids = head.decoder.decode_centers(
        center[:, 0].mean(0, keepdim=True), cfg['max_instances'],
        cfg['score_thr'], cfg['blur_kernel_size'])
    coords, ids = torch.cat((coords, coords)), torch.cat((ids, ids + 1))
    params = f[ids, :, coords[:, 1], coords[:, 0]]
    hm = sigmoid_clamped(direct_form(head.instance_head, f, params, coords,
                                     ids))
    n, flip = len(scores), samples[0].metainfo['flip_indices']
    return reference_decode((hm[:n] + hm[n:, flip]) / 2, scores, x.shape[-1]
                            / hm.shape[-1], cfg['blur_kernel_size'])


def setup(args):
    """The three models (ours switched to fast inference, the reference:
    the same weights, plain), the warped image, the input, its sample."""
    from mmpose.apis.inference import dataset_meta_from_config
    from mmpose.registry import MODELS
    from mmpose.structures import PoseDataSample
    from mmpose.utils import register_all_modules
    img = cv2.imread(args.image)
    if img is None:
        raise SystemExit(f'error: cannot read image {args.image}')
    register_all_modules(init_default_scope=True)
    boir, cid = Config.fromfile(args.config), Config.fromfile(args.cid_config)
    boir.model.head.with_aux_heads = False
    cid.model.backbone = copy.deepcopy(boir.model.backbone)
    cid.model.head.in_channels = boir.model.head.in_channels
    for cfg in (boir, cid):
        cfg.model.backbone.init_cfg = None
        cfg.model.test_cfg.update(flip_test=True, max_instances=args.instances,
                                  score_thr=-1.0, blur_kernel_size=3)
    models = {}
    for name, cfg in (('reference', boir), ('cid', cid)):
        torch.manual_seed(0)
        models[name] = MODELS.build(cfg.model).eval()
    models['ours'] = switch_to_fast_inference(
        copy.deepcopy(models['reference']))
    raw, _ = preprocess(img, (args.short_side, ) * 2, 32, 'expand')
    flip = dataset_meta_from_config(boir, 'test')['flip_indices']
    sample = PoseDataSample(metainfo=dict(flip_indices=list(flip)))
    x = models['reference'].data_preprocessor(dict(  # CID's is the same
        inputs=[torch.from_numpy(raw[0])], data_samples=[sample]))['inputs']
    sample.set_metainfo(dict(input_size=(x.shape[3], x.shape[2])))
    return models, raw, x, [sample]


def predict(model, x, samples):
    """The estimator's flip-test predict without the mapping to the image."""
    feats = [model.extract_feat(x), model.extract_feat(x.flip(-1))]
    return model.head.predict(feats, samples, model.test_cfg)


def alternate(fns, runs, warmup, stages=None):
    """Median ms per name of ``runs`` rounds after ``warmup``, each running
    every function once in a rotating order; with ``stages`` (name ->
    modules) also the median ms and share of each stage in the first
    function's runs (forward hooks; "decoding": the rest)."""
    names, times, per_run = list(fns), {n: [] for n in fns}, []
    acc, t0 = {}, [0.0]  # this run's stage times, the last stage's start
    for k, modules in (stages or {}).items():
        for m in modules:
            m.register_forward_pre_hook(
                lambda *a: t0.__setitem__(0, time.perf_counter()))
            m.register_forward_hook(lambda *a, k=k: acc.__setitem__(
                k, acc.get(k, 0) + time.perf_counter() - t0[0]))
    for r in range(warmup + runs):
        for name in names[r % len(names):] + names[:r % len(names)]:
            acc.clear()
            with torch.no_grad():
                start = time.perf_counter()
                fns[name]()
                dt = time.perf_counter() - start
            if r >= warmup:
                times[name].append(dt * 1e3)
                if name == names[0]:
                    per_run.append(dict(acc, decoding=dt - sum(acc.values())))
    ms = {k: statistics.median(p[k] for p in per_run) * 1e3
          for k in (per_run or [{}])[0]}
    return ({n: statistics.median(v) for n, v in times.items()},
            {k: dict(ms=v, share=v / sum(ms.values())) for k, v in ms.items()})


def complexity(name, model, x, n):
    """Parameters and FLOPs (``FlopAnalyzer``) of one flip-test inference:
    dense (backbone, concat, center head; CID: IIA) and instance head."""
    from mmengine.analysis import FlopAnalyzer
    head, x2 = model.head, torch.cat((x, x.flip(-1)))
    with torch.no_grad():
        f = model.extract_feat(x2)[-1]
    coords = torch.stack([torch.arange(2 * n) % d for d in f.shape[:1:-1]], 1)
    ids = torch.arange(2).repeat_interleave(n)
    params = f[ids, :, coords[:, 1], coords[:, 0]]
    if name == 'cid':
        dense, inst = (lambda y: head.iia_module(model.extract_feat(y)[-1]),
                       head.gfd_module.forward)
    else:
        dense = (lambda y: head.forward(model.extract_feat(y),
                                        with_aux=False)['center'])
        inst = head.instance_head.forward if name == 'ours' else \
            functools.partial(direct_form, head.instance_head)
    res = dict(params_m=sum(p.numel() for p in model.parameters()) / 1e6)
    for part, fn, *inputs in (('dense', dense, x2),
                              ('instance_head', inst, f, params, coords, ids)):
        wrap = torch.nn.Module()  # fn (not a module) in a module
        wrap.model, wrap.forward = model, fn
        fa = FlopAnalyzer(wrap, tuple(inputs))
        fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        res['gflops_' + part] = fa.total() / 1e9
    return dict(res, gflops=res['gflops_dense'] + res['gflops_instance_head'])


def peak_mib(fn):
    """Peak resident memory (MiB) of one ``fn()`` above that before it."""
    def kib(field):
        return int(dict(ln.split(':', 1) for ln in open('/proc/self/status'))
                   [field].split()[0])

    ctypes.CDLL(None).malloc_trim(0)  # free heap pages back to the system
    before = kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    with torch.no_grad():
        fn()
    return (kib('VmHWM') - before) / 1024


def bench_onnx(args, raw):
    """The exported graph in onnxruntime vs ``BoIRDeployModel`` in PyTorch."""
    import onnxruntime as ort
    torch.manual_seed(0)
    model = build_deploy_model(args.config, flip_test=True,
                               max_instances=args.instances,
                               score_thr=-1.0)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = args.threads
    with tempfile.TemporaryDirectory() as tmp:
        sess = ort.InferenceSession(
            export_onnx(model, osp.join(tmp, 'boir.onnx'), raw.shape[-2:]),
            so, providers=['CPUExecutionProvider'])
    med = alternate(dict(onnxruntime=lambda: sess.run(None, {'image': raw}),
                         pytorch=lambda: model(torch.from_numpy(raw))),
                    args.runs, args.warmup)[0]
    return dict(onnxruntime_ms=med['onnxruntime'], pytorch_ms=med['pytorch'],
                ratio=med['onnxruntime'] / med['pytorch'])


def parse_args(argv):
    import mmpose
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/boir/boir_w32_coco.py')
    p.add_argument('--cid-config', default=osp.join(
        osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint',
        'cid', 'coco', 'cid_hrnet-w32_8xb20-140e_coco-512x512.py'))
    p.add_argument('--image', default=IMAGE, help='the input image')
    for name, default in (('short-side', 512), ('instances', 30), ('runs', 7),
                          ('warmup', 2), ('threads', 1)):
        p.add_argument(f'--{name}', type=int, default=default)
    p.add_argument('--batch', type=int, default=1, help='ours at batch B too')
    p.add_argument('--onnx', action='store_true', help='time onnxruntime too')
    p.add_argument('--no-memory', action='store_true')
    p.add_argument('--out', help='write the results as JSON')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    models, raw, x, samples = setup(args)
    m = models['ours']
    fns = {n: functools.partial(predict_reference if n == 'reference' else
                                predict, models[n], x, samples) for n in NAMES}
    B = args.batch  # ours per image (MMPose's CID predicts one image at once)
    if B > 1:
        fns[f'ours_batch{B}'] = functools.partial(
            predict, m, x.repeat(B, 1, 1, 1), samples * B)
    med, stages = alternate(fns, args.runs, args.warmup, dict(
        backbone=[m.backbone] + ([m.neck] if m.with_neck else []),
        neck_center_head=[m.head.neck, m.head.center_head],
        instance_head=[m.head.instance_head]))
    res = dict(
        setup=dict(vars(args), input_wh=[x.shape[3], x.shape[2]],
                   flip_test=True, torch=torch.__version__),
        latency_ms={n: med[n] for n in NAMES},
        ratios=dict(ours_over_reference=med['ours'] / med['reference'],
                    ours_over_cid=med['ours'] / med['cid']),
        stages=stages,
        complexity={n: complexity(n, models[n], x, args.instances)
                    for n in NAMES})
    if not args.no_memory:
        res['memory_peak_mib'] = {n: peak_mib(fns[n]) for n in NAMES}
    if args.onnx:
        res['onnx'] = bench_onnx(args, raw)
    if B > 1:
        res['per_image_ms'] = {'ours_batch1': med['ours'],
                               f'ours_batch{B}': med[f'ours_batch{B}'] / B}
    report(res)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=2)


def report(res):
    s, r, mem = res['setup'], res['ratios'], res.get('memory_peak_mib', {})
    print(f"input {s['input_wh']}, flip test, {s['instances']} people, "
          f"{s['threads']} thread(s), median of {s['runs']} alternating runs"
          f"\n{'':10}{'ms':>9}{'params M':>10}{'GFLOPs':>9}{'peak MiB':>10}")
    for n, c in res['complexity'].items():
        print(f"{n:10}{res['latency_ms'][n]:9.1f}{c['params_m']:10.2f}"
              f"{c['gflops']:9.1f}{mem.get(n, np.nan):10.1f}")
    print(f"ours/reference {r['ours_over_reference']:.2f}, ours/cid "
          f"{r['ours_over_cid']:.2f}; ours by stage: " + ', '.join(
              f"{k} {v['ms']:.1f} ms ({100 * v['share']:.0f}%)"
              for k, v in res['stages'].items()))
    if 'onnx' in res:
        print('deployed graph: onnxruntime {onnxruntime_ms:.1f} ms, PyTorch '
              '{pytorch_ms:.1f} ms, ratio {ratio:.2f}'.format(**res['onnx']))
    for k, v in res.get('per_image_ms', {}).items():
        print(f'per image: {k} {v:.1f} ms ({1e3 / v:.2f} img/s)')


if __name__ == '__main__':
    main()
