"""Inference speed of BoIR side by side with its reference and MMPose's CID.

    python tools/benchmark.py --onnx --out bench.json     # W32, CPU, 1 thread

``ours`` (``BoIRHead.predict``), ``reference`` (same weights, the release's
arithmetic the release's way: ``direct_form`` and ``reference_decode`` of
``tests/reference_loops.py``) and ``cid`` (MMPose's CID, BoIR's backbone) in
alternating runs on one input, flip test, ``--instances`` people (center
threshold -1). See docs/usage.md, "Speed".
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

import cv2
import torch
from mmengine.config import Config

import mmpose_boir  # noqa: F401  (registration)
from mmpose_boir.codecs.boir_heatmap import (BoIRDecoupledHeatmap,
                                             sigmoid_clamped)
from mmpose_boir.deploy import build_deploy_model, export_onnx, preprocess

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tests'))  # the references live there
from reference_loops import direct_form, reference_decode  # noqa: E402

IMAGE = osp.join(REPO, 'demo', '000000196141.jpg')  # a sample image
NAMES = ('ours', 'reference', 'cid')


def load_configs(args):
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    boir = Config.fromfile(args.config)
    cid = Config.fromfile(args.cid_config)
    boir.model.head.with_aux_heads = False
    cid.model.backbone = copy.deepcopy(boir.model.backbone)
    cid.model.head.in_channels = boir.model.head.in_channels
    for cfg in (boir, cid):
        cfg.model.backbone.init_cfg = None
        cfg.model.test_cfg.update(flip_test=True, max_instances=args.instances,
                                  score_threshold=-1.0, blur_kernel_size=3)
    return dict(ours=boir, reference=boir, cid=cid)


def build(cfg):
    from mmpose.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(cfg.model)).eval()


def sample_input(cfg, short_side):
    """The normalised ``[1, 3, h, w]`` input and its data sample."""
    from mmpose.apis.inference import dataset_meta_from_config
    from mmpose.structures import PoseDataSample
    raw, _ = preprocess(cv2.imread(IMAGE), (short_side, ) * 2, 32, 'expand')
    pre = cfg.model.data_preprocessor  # BoIR's and CID's are the same
    x = torch.from_numpy(raw).flip(1) if pre.bgr_to_rgb else \
        torch.from_numpy(raw)
    x = (x - torch.tensor(pre.mean)[:, None, None]) / torch.tensor(
        pre.std)[:, None, None]
    flip = dataset_meta_from_config(cfg, 'test')['flip_indices']
    sample = PoseDataSample(metainfo=dict(
        input_size=(x.shape[3], x.shape[2]), flip_indices=list(flip)))
    return raw, x, [sample]


def predict(model, x, samples):
    """The estimator's flip-test predict without the mapping to the image."""
    feats = [model.extract_feat(x), model.extract_feat(x.flip(-1))]
    return model.head.predict(feats, samples, model.test_cfg)


def predict_reference(model, x, samples):
    """The release's way: also its NCHW memory format (the model's
    ``test_cfg.channels_last`` off for this call)."""
    head, cfg = model.head, dict(model.test_cfg)
    flip = samples[0].metainfo['flip_indices']
    model.test_cfg['channels_last'] = False
    try:
        f = torch.cat((model.extract_feat(x)[-1],
                       model.extract_feat(x.flip(-1))[-1].flip(-1)))
    finally:
        model.test_cfg.clear()
        model.test_cfg.update(cfg)
    center = sigmoid_clamped(head.forward([f], with_aux=False)['center'])
    scores, coords, ids = BoIRDecoupledHeatmap.decode_centers(
        center[:, 0].mean(0, keepdim=True), cfg['max_instances'],
        cfg['score_threshold'], cfg['blur_kernel_size'])[:3]
    coords, ids = torch.cat((coords, coords)), torch.cat((ids, ids + 1))
    params = f[ids, :, coords[:, 1], coords[:, 0]]
    hm = sigmoid_clamped(direct_form(head.instance_head, f, params, coords,
                                     ids))
    n = len(scores)
    hm = (hm[:n] + hm[n:, flip]) / 2
    return reference_decode(hm, scores, x.shape[-1] / hm.shape[-1],
                            cfg['blur_kernel_size'])


class StageTimer:
    """Wall time spent in groups of modules, through forward hooks."""

    def __init__(self, groups):
        self.times, self.t0 = {}, 0.0
        for name, modules in groups.items():
            for m in modules:
                m.register_forward_pre_hook(lambda *a: self.start())
                m.register_forward_hook(lambda *a, n=name: self.stop(n))

    def start(self):
        self.t0 = time.perf_counter()

    def stop(self, n):
        self.times[n] = self.times.get(n, 0) + time.perf_counter() - self.t0


def alternate(fns, runs, warmup, timer):
    """Per name, the times (s) of ``runs`` rounds after ``warmup``; each
    round runs every function once, in a rotating order; and the stage
    times (``timer``) of each run of the first function."""
    names, times, stages = list(fns), {n: [] for n in fns}, []
    for r in range(warmup + runs):
        for i in range(len(names)):
            name = names[(i + r) % len(names)]
            timer.times = {}
            with torch.no_grad():
                t0 = time.perf_counter()
                fns[name]()
                dt = time.perf_counter() - t0
            if r >= warmup:
                times[name].append(dt)
                if name == names[0]:
                    stages.append(dict(timer.times, total=dt))
    return times, stages


def stage_shares(stages):
    """Median ms and share of each stage of ``ours``."""
    med = {k: statistics.median(s[k] for s in stages) * 1e3
           for k in stages[0]}
    med['decoding'] = med['total'] - sum(v for k, v in med.items()
                                         if k != 'total')
    return {k: dict(ms=v, share=v / med['total'])
            for k, v in med.items() if k != 'total'}


class Wrap(torch.nn.Module):
    """``fn`` as a module that owns ``model`` (for tracing)."""

    def __init__(self, model, fn):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *inputs):
        return self.fn(*inputs)


def dense(model, x):
    """Backbone, concat and center head (CID: its IIA 1x1 conv)."""
    feats, head = model.extract_feat(x), model.head
    if hasattr(head, 'iia_module'):
        return head.iia_module(feats[-1])
    return head.forward(feats, with_aux=False)['center']


def complexity(name, model, x, n):
    from mmengine.analysis import FlopAnalyzer
    x2 = torch.cat((x, x.flip(-1)))
    with torch.no_grad():
        f = model.extract_feat(x2)[-1]
    coords = torch.stack([torch.arange(2 * n) % d for d in f.shape[:1:-1]], 1)
    ids = torch.arange(2).repeat_interleave(n)
    params = f[ids, :, coords[:, 1], coords[:, 0]]
    head = model.head
    inst = dict(cid=lambda *a: head.gfd_module(*a),
                ours=lambda *a: head.instance_head(*a),
                reference=lambda *a: direct_form(head.instance_head, *a))
    res = dict(params_m=sum(p.numel() for p in model.parameters()) / 1e6)
    for part, fn, inputs in (('dense', lambda x: dense(model, x), (x2, )),
                             ('instance_head', inst[name],
                              (f, params, coords, ids))):
        fa = FlopAnalyzer(Wrap(model, fn), inputs)
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        res[f'gflops_{part}'] = fa.total() / 1e9
    return dict(res, gflops=res['gflops_dense'] + res['gflops_instance_head'])


def memory_worker(args):
    """Print the peak RSS (MiB) of one inference above the RSS before it."""
    cfg = load_configs(args)[args.memory_of]
    model, (_, x, samples) = build(cfg), sample_input(cfg, args.short_side)
    fn = predict_reference if args.memory_of == 'reference' else predict

    def kib(field):
        return next(int(ln.split()[1]) for ln in open('/proc/self/status')
                    if ln.startswith(field))
    before = kib('VmRSS:')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM to the current RSS
    with torch.no_grad():
        fn(model, x, samples)
    print(json.dumps(dict(peak_mib=(kib('VmHWM:') - before) / 1024)))


def measure_memory(argv):
    return {n: json.loads(subprocess.run(
        [sys.executable, __file__, *argv, '--memory-of', n], check=True,
        capture_output=True, text=True).stdout.splitlines()[-1])
        for n in NAMES}


def bench_onnx(args, raw):
    """The exported graph in onnxruntime vs ``BoIRDeployModel`` in PyTorch
    on the same warped image."""
    import onnxruntime as ort
    torch.manual_seed(0)
    model = build_deploy_model(args.config, flip_test=True,
                               max_instances=args.instances,
                               score_threshold=-1.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, osp.join(tmp, 'boir.onnx'), raw.shape[-2:])
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = args.threads
        sess = ort.InferenceSession(path, so,
                                    providers=['CPUExecutionProvider'])
    xt = torch.from_numpy(raw)
    times, _ = alternate(
        dict(onnxruntime=lambda: sess.run(None, {'image': raw}),
             pytorch=lambda: model(xt)), args.runs, args.warmup,
        StageTimer({}))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    return dict(onnxruntime_ms=med['onnxruntime'], pytorch_ms=med['pytorch'],
                ratio=med['onnxruntime'] / med['pytorch'])


def bench_batch(model, x, samples, args):
    """Per-image latency (ms) of ours at batch 1 and at ``--batch`` (the
    same image repeated), alternating. (MMPose's CID head predicts one
    image at a time: its flip test fails on a batch.)"""
    B = args.batch
    xb, sb = x.repeat(B, 1, 1, 1), samples * B
    fns = {'ours_batch1': lambda: predict(model, x, samples),
           f'ours_batch{B}': lambda: predict(model, xb, sb)}
    times, _ = alternate(fns, args.runs, args.warmup, StageTimer({}))
    return {k: statistics.median(v) * 1e3 / (1 if k.endswith('_batch1')
                                                 else B)
            for k, v in times.items()}


def parse_args(argv):
    import mmpose
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/boir/boir_w32_coco.py')
    p.add_argument('--cid-config', default=osp.join(
        osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint',
        'cid', 'coco', 'cid_hrnet-w32_8xb20-140e_coco-512x512.py'))
    p.add_argument('--short-side', type=int, default=512)
    p.add_argument('--instances', type=int, default=30)
    p.add_argument('--runs', type=int, default=7)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--onnx', action='store_true', help='time onnxruntime too')
    p.add_argument('--batch', type=int, default=1,
                   help='also time ours per image at this batch size')
    p.add_argument('--no-memory', action='store_true')
    p.add_argument('--out', help='write the results as JSON')
    p.add_argument('--memory-of', choices=NAMES, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_of:
        return memory_worker(args)
    cfgs = load_configs(args)
    models = dict(ours=build(cfgs['ours']), cid=build(cfgs['cid']))
    models['reference'] = models['ours']
    raw, x, samples = sample_input(cfgs['ours'], args.short_side)
    m = models['ours']
    timer = StageTimer(dict(
        backbone=[m.backbone] + ([m.neck] if m.with_neck else []),
        neck_center_head=[m.head.neck, m.head.center_head],
        instance_head=[m.head.instance_head]))
    fns = dict(ours=lambda: predict(m, x, samples),
               reference=lambda: predict_reference(m, x, samples),
               cid=lambda: predict(models['cid'], x, samples))
    times, stages = alternate(fns, args.runs, args.warmup, timer)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    setup = {k: v for k, v in vars(args).items() if k != 'memory_of'}
    res = dict(
        setup=dict(setup, input_wh=[x.shape[3], x.shape[2]], flip_test=True,
                   torch=torch.__version__),
        latency_ms=med,
        ratios=dict(ours_over_reference=med['ours'] / med['reference'],
                    ours_over_cid=med['ours'] / med['cid']),
        stages=stage_shares(stages),
        complexity={n: complexity(n, models[n], x, args.instances)
                    for n in NAMES})
    if not args.no_memory:
        res['memory'] = measure_memory(argv)
    if args.onnx:
        res['onnx'] = bench_onnx(args, raw)
    if args.batch > 1:
        res['per_image_ms'] = bench_batch(m, x, samples, args)
    report(res)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=2)


def report(res):
    s, r = res['setup'], res['ratios']
    print(f"input {s['input_wh']}, flip test, {s['instances']} people, "
          f"{s['threads']} thread(s), median of {s['runs']} alternating runs")
    print(f"{'':10}{'ms':>9}{'params M':>10}{'GFLOPs':>9}{'peak MiB':>10}")
    for n in NAMES:
        c, mem = res['complexity'][n], res.get('memory', {}).get(n, {})
        print(f"{n:10}{res['latency_ms'][n]:9.1f}{c['params_m']:10.2f}"
              f"{c['gflops']:9.1f}{mem.get('peak_mib', float('nan')):10.1f}")
    print(f"ours/reference {r['ours_over_reference']:.2f}, "
          f"ours/cid {r['ours_over_cid']:.2f}; ours by stage: " + ', '.join(
              f"{k} {v['ms']:.1f} ms ({100 * v['share']:.0f}%)"
              for k, v in res['stages'].items()))
    if 'onnx' in res:
        print('deployed graph: onnxruntime {onnxruntime_ms:.1f} ms, PyTorch '
              '{pytorch_ms:.1f} ms, ratio {ratio:.2f}'.format(**res['onnx']))
    if 'per_image_ms' in res:
        print('per image: ' + ', '.join(
            f'{k} {v:.1f} ms ({1e3 / v:.2f} img/s)'
            for k, v in res['per_image_ms'].items()))


if __name__ == '__main__':
    main()
