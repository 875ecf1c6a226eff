"""Benchmark the deployed BoIR against MMPose's CID, same backbone and input.

    python tools/benchmark.py                       # W32, 512x512, CPU
    python tools/benchmark.py --device cuda --runs 50 --out bench.json

One run measures, on the same machine and the same input tensor:

- inference latency (median of ``--runs`` after ``--warmup`` runs) of the
  whole ``predict`` (network + decoding + mapping to the image; flip test as
  in the configs unless ``--no-flip``), with the two models' runs
  interleaved so that load from other processes hits both alike; and the
  part of it spent outside the network modules (feature flip-back, peak
  finding / top-k, instance parameter sampling, heatmap flip averaging and
  smoothing, argmax and refinement, mapping to the image): "post-network";
- peak memory of inference: on CPU each model runs in its own subprocess
  and the peak resident set (``VmHWM``, reset before inference) minus the
  resident set before inference is reported; on CUDA
  ``torch.cuda.max_memory_allocated`` above the memory held before;
- parameters and FLOPs (``mmengine.analysis.FlopAnalyzer``, one
  multiply-add = 1 FLOP as MMEngine counts) of the dense part (backbone,
  feature concat, BoIR's ASPP neck + center head or CID's 1x1 conv) and of
  the instance keypoint head for ``--instances`` instances, one pass
  (flip test doubles both);
- training-step time (forward, backward, AdamW step; median of
  ``--train-runs``) of BoIR with its auxiliary heads and of CID, on the
  same batch (the sample images through each model's training targets,
  augmentation off so both see identical input tensors);
- the Bbox Mask Loss (forward + backward) and the instance heatmap decoding,
  vectorised (the package's) vs a per-instance Python loop reference
  written here, with their numerical agreement.

Weights are random (the cost does not depend on them); so that both models
decode the same number of people, the center score threshold is disabled
and exactly ``--instances`` instances (default 30, the configs'
``max_instances``) are decoded. ``--boir-checkpoint``/``--cid-checkpoint``
with ``--instances 0`` benchmark trained weights with the configs'
thresholds instead.

On CPU the benchmark uses one thread unless ``--threads N``: on a machine
shared with other jobs, multi-threaded timings are distorted far more than
single-threaded ones (OpenMP threads wait for descheduled siblings at every
parallel region); on a dedicated machine pass ``--threads`` to use all
cores. The defaults finish in a few minutes on a 2-core CPU. Tiny settings for a
smoke test: ``--boir-config configs/boir/tiny/boir_tiny_coco.py --runs 1
--warmup 0 --train-runs 1``.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config

import mmpose_boir  # noqa: F401  (compat shims + registration)
from mmpose_boir.codecs import BoIRDecoupledHeatmap
# the per-instance Python-loop references live with the tests
sys.path.append(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                         'tests'))
from reference_loops import (reference_bbox_mask_loss,  # noqa: E402
                             reference_decode)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_BOIR = osp.join(REPO, 'configs/boir/boir_w32_coco.py')
CID_REL = ('body_2d_keypoint/cid/coco/'
           'cid_hrnet-w32_8xb20-140e_coco-512x512.py')
SAMPLE_DIR = osp.join(REPO, '..', 'shared', 'data', 'coco')
SAMPLE_IMAGE = osp.join(SAMPLE_DIR, '000000196141.jpg')
NAMES = ('BoIR', 'CID')


def default_cid_config() -> str:
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', CID_REL)


# ---------------------------------------------------------------- configs
def load_configs(args) -> Dict[str, Config]:
    """BoIR's config and CID's with BoIR's backbone and input size.

    ``with_aux_heads`` is left as in the config (training) and set to False
    by :func:`build_model` for inference.
    """
    boir = Config.fromfile(args.boir_config)
    cid = Config.fromfile(args.cid_config)
    for cfg in (boir, cid):
        cfg.model.backbone.init_cfg = None
    cid.model.backbone = copy.deepcopy(boir.model.backbone)
    cid.model.head.in_channels = boir.model.head.in_channels
    codec = boir.model.head.decoder
    cid.model.head.decoder = dict(
        type='DecoupledHeatmap', input_size=tuple(codec.input_size),
        heatmap_size=tuple(codec.heatmap_size))
    for cfg in (boir, cid):
        if args.no_flip:
            cfg.model.test_cfg.flip_test = False
        if args.instances > 0:
            cfg.model.test_cfg.max_instances = args.instances
            cfg.model.test_cfg.score_threshold = -1.0
    return dict(BoIR=boir, CID=cid)


def build_model(cfg: Config, deploy: bool, checkpoint: Optional[str],
                device: str) -> torch.nn.Module:
    from mmengine.runner import load_checkpoint
    from mmpose.registry import MODELS
    cfg = copy.deepcopy(cfg)
    if deploy and cfg.model.head.type == 'BoIRHead':
        cfg.model.head.with_aux_heads = False
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval() if deploy else model.to(device).train()


def input_size_of(cfg: Config):
    """(w, h) of the network input."""
    return tuple(cfg.model.head.decoder.input_size)


def inference_inputs(cfg: Config, device: str):
    """The sample image fitted into the input size (or a seeded random
    image), as a preprocessed ``[1, 3, h, w]`` tensor and its data sample;
    identical for both models (same data preprocessor settings)."""
    from mmpose.structures import PoseDataSample
    from mmpose_boir.deploy import preprocess
    w, h = input_size_of(cfg)
    img = None
    if osp.isfile(SAMPLE_IMAGE):
        import cv2
        img = cv2.imread(SAMPLE_IMAGE)
    if img is None:
        img = np.random.default_rng(0).integers(0, 256, (h, w, 3),
                                                dtype=np.uint8)
    x, meta = preprocess(img, (w, h), size_factor=32, resize_mode='fit')
    pre = cfg.model.data_preprocessor
    x = torch.from_numpy(x)
    if pre.get('bgr_to_rgb', False):
        x = x.flip(1)
    x = (x - torch.tensor(pre.mean).view(1, 3, 1, 1)) / torch.tensor(
        pre.std).view(1, 3, 1, 1)
    from mmpose.apis.inference import dataset_meta_from_config
    dataset_meta = dataset_meta_from_config(cfg, 'test') or {}
    flip_indices = list(dataset_meta.get(
        'flip_indices', range(cfg.model.head.num_keypoints)))
    sample = PoseDataSample(metainfo=dict(
        input_size=(x.shape[3], x.shape[2]), input_center=meta['input_center'],
        input_scale=meta['input_scale'], flip_indices=flip_indices,
        ori_shape=img.shape[:2], img_shape=img.shape[:2]))
    return x.to(device), [sample]


def network_modules(model: torch.nn.Module) -> List[torch.nn.Module]:
    """The network's top-level modules whose time is "network"; the rest of
    ``predict`` is post-network."""
    head = model.head
    mods = [model.backbone]
    if getattr(model, 'with_neck', False):
        mods.append(model.neck)
    if hasattr(head, 'center_head'):  # BoIR
        mods += [head.neck, head.center_head, head.instance_head]
    else:  # CID
        mods += [head.iia_module.keypoint_root_conv, head.gfd_module]
    return mods


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


class NetworkTimer:
    """Accumulates the time spent inside a set of modules (forward hooks)."""

    def __init__(self, modules: Sequence[torch.nn.Module], device: str):
        self.device = device
        self.total = 0.0
        self._start = {}
        self._handles = []
        for m in modules:
            self._handles.append(m.register_forward_pre_hook(self._pre))
            self._handles.append(m.register_forward_hook(self._post))

    def _pre(self, module, args):
        _sync(self.device)
        self._start[id(module)] = time.perf_counter()

    def _post(self, module, args, output):
        _sync(self.device)
        self.total += time.perf_counter() - self._start.pop(id(module))

    def remove(self):
        for h in self._handles:
            h.remove()


def time_predict(model, inputs, samples, device: str,
                 timer: NetworkTimer) -> Dict[str, float]:
    timer.total = 0.0
    _sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        results = model.predict(inputs, copy.deepcopy(samples))
    _sync(device)
    total = time.perf_counter() - t0
    return dict(total=total, network=timer.total,
                post=total - timer.total,
                instances=len(results[0].pred_instances))


# -------------------------------------------------------------- inference
def bench_inference(args, cfgs, device) -> Dict[str, Dict]:
    models = {n: build_model(cfgs[n], True, _ckpt(args, n), device)
              for n in NAMES}
    inputs, samples = inference_inputs(cfgs['BoIR'], device)
    timers = {n: NetworkTimer(network_modules(models[n]), device)
              for n in NAMES}
    runs = {n: [] for n in NAMES}
    for i in range(args.warmup + args.runs):
        order = NAMES if i % 2 == 0 else NAMES[::-1]
        for n in order:
            r = time_predict(models[n], inputs, samples, device, timers[n])
            if i >= args.warmup:
                runs[n].append(r)
    out = {}
    for n in NAMES:
        total = [r['total'] for r in runs[n]]
        post = [r['post'] for r in runs[n]]
        net = [r['network'] for r in runs[n]]
        out[n] = dict(
            latency_ms=1e3 * statistics.median(total),
            latency_min_ms=1e3 * min(total),
            network_ms=1e3 * statistics.median(net),
            post_network_ms=1e3 * statistics.median(post),
            post_network_share=statistics.median(
                [p / t for p, t in zip(post, total)]),
            instances=runs[n][-1]['instances'],
            runs_ms=[1e3 * t for t in total],
            input_shape=list(inputs.shape),
            flip_test=bool(cfgs[n].model.test_cfg.get('flip_test', False)))
        timers[n].remove()
    return out


def _ckpt(args, name):
    return args.boir_checkpoint if name == 'BoIR' else args.cid_checkpoint


# ----------------------------------------------------------------- memory
def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def memory_worker(args) -> None:
    """Child process: one model's inference peak memory (CPU), as JSON."""
    import gc
    import resource
    name = args.memory_worker
    cfgs = load_configs(args)
    model = build_model(cfgs[name], True, _ckpt(args, name), 'cpu')
    inputs, samples = inference_inputs(cfgs['BoIR'], 'cpu')
    with torch.no_grad():
        model.predict(inputs, copy.deepcopy(samples))  # warm-up
    gc.collect()
    before = _rss_kib('VmRSS')
    reset = _reset_peak_rss()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        model.predict(inputs, copy.deepcopy(samples))
    if reset:
        peak = _rss_kib('VmHWM')
        method = 'VmHWM (reset) - VmRSS before inference'
    else:  # high-water mark of the whole process: an upper bound
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = 'ru_maxrss - VmRSS before inference (upper bound)'
        peak = max(peak, maxrss_before)
    print('MEMORY_JSON ' + json.dumps(dict(
        peak_mib=(peak - before) / 1024, rss_before_mib=before / 1024,
        peak_rss_mib=peak / 1024, method=method)))


def bench_memory(args, cfgs, device) -> Dict[str, Dict]:
    out = {}
    if device.startswith('cuda'):
        inputs, samples = inference_inputs(cfgs['BoIR'], device)
        for n in NAMES:
            model = build_model(cfgs[n], True, _ckpt(args, n), device)
            with torch.no_grad():
                model.predict(inputs, copy.deepcopy(samples))
            torch.cuda.synchronize()
            before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            with torch.no_grad():
                model.predict(inputs, copy.deepcopy(samples))
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
            out[n] = dict(peak_mib=(peak - before) / 2**20,
                          weights_and_before_mib=before / 2**20,
                          method='torch.cuda.max_memory_allocated - before')
            del model
            torch.cuda.empty_cache()
        return out
    argv = [a for a in args.argv]
    if '--out' in argv:  # the worker writes nothing
        i = argv.index('--out')
        del argv[i:i + 2]
    for n in NAMES:
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [REPO] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                      if p])
        proc = subprocess.run(
            [sys.executable, osp.abspath(__file__), *argv,
             '--memory-worker', n],
            capture_output=True, text=True, env=env, cwd=os.getcwd())
        lines = [ln for ln in proc.stdout.splitlines()
                 if ln.startswith('MEMORY_JSON ')]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f'memory worker for {n} failed:\n'
                               f'{proc.stdout[-2000:]}{proc.stderr[-4000:]}')
        out[n] = json.loads(lines[-1][len('MEMORY_JSON '):])
    return out


# ------------------------------------------------------- params and FLOPs
class _Dense(torch.nn.Module):
    """Backbone, concat and the dense head part that runs once per image."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        feats = self.model.extract_feat(x)
        head = self.model.head
        if hasattr(head, 'center_head'):
            return head.forward(feats, with_aux=False)['center']
        return head.iia_module(feats[-1])


class _Instances(torch.nn.Module):
    """The instance keypoint head on N instances of one image."""

    def __init__(self, model):
        super().__init__()
        head = model.head
        self.head = (head.instance_head if hasattr(head, 'instance_head')
                     else head.gfd_module)

    def forward(self, feats, params, coords, img_ids):
        return self.head(feats, params, coords, img_ids)


def bench_complexity(args, cfgs) -> Dict[str, Dict]:
    from mmengine.analysis import FlopAnalyzer
    w, h = input_size_of(cfgs['BoIR'])
    n_inst = args.instances if args.instances > 0 else 30
    out = {}
    for n in NAMES:
        model = build_model(cfgs[n], True, None, 'cpu')
        x = torch.zeros(1, 3, h, w)
        with torch.no_grad():
            feats = model.extract_feat(x)[-1]
        C, fh, fw = feats.shape[1:]
        g = torch.Generator().manual_seed(0)
        coords = torch.stack(
            (torch.randint(0, fw, (n_inst, ), generator=g),
             torch.randint(0, fh, (n_inst, ), generator=g)), 1)
        img_ids = torch.zeros(n_inst, dtype=torch.long)
        params = feats[0, :, coords[:, 1], coords[:, 0]].T.contiguous()
        flops = {}
        for key, module, inputs in (
                ('dense', _Dense(model), (x, )),
                ('instance_head', _Instances(model),
                 (feats, params, coords, img_ids))):
            fa = FlopAnalyzer(module.eval(), inputs)
            fa.unsupported_ops_warnings(False)
            fa.uncalled_modules_warnings(False)
            with torch.no_grad():
                flops[key] = float(fa.total())
        params_n = sum(p.numel() for p in model.parameters())
        out[n] = dict(
            params_m=params_n / 1e6,
            gflops_dense=flops['dense'] / 1e9,
            gflops_instance_head=flops['instance_head'] / 1e9,
            gflops_single_pass=(flops['dense'] + flops['instance_head']) / 1e9,
            instances_for_flops=n_inst,
            input_shape=[1, 3, h, w])
    return out


# --------------------------------------------------------------- training
def training_batch(cfg: Config, batch_size: int, model):
    """The first ``batch_size`` sample images through ``cfg``'s training
    targets with augmentation off, collated and preprocessed by ``model``."""
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS
    w, h = input_size_of(cfg)
    pipeline = []
    for t in cfg.train_dataloader.dataset.pipeline:
        t = dict(t)
        if t['type'] == 'BottomupRandomAffine':
            t = dict(type='BottomupRandomAffine', input_size=(w, h),
                     shift_prob=0, scale_prob=0, rotate_prob=0,
                     scale_type='short', bbox_keep_corner=True)
        elif t['type'] == 'RandomFlip':
            continue
        elif t['type'] == 'GenerateTarget':
            t['encoder'] = dict(cfg.model.head.decoder)
            if t['encoder']['type'] == 'BoIRDecoupledHeatmap':
                t['encoder'].update(jitter=False)
        pipeline.append(t)
    dataset = DATASETS.build(dict(
        type='CocoDataset', data_root=SAMPLE_DIR, data_mode='bottomup',
        ann_file='test_coco.json', data_prefix=dict(img=''),
        pipeline=pipeline))
    items = [dataset[i % len(dataset)] for i in range(batch_size)]
    data = model.data_preprocessor(pseudo_collate(items), training=True)
    return data


def bench_training(args, cfgs, device) -> Dict[str, Dict]:
    from mmengine.optim import OptimWrapper
    if not osp.isfile(osp.join(SAMPLE_DIR, 'test_coco.json')):
        return {n: dict(skipped='sample COCO images not found') for n in NAMES}
    models, batches, optims = {}, {}, {}
    for n in NAMES:
        torch.manual_seed(0)
        models[n] = build_model(cfgs[n], False, None, device)
        batches[n] = training_batch(cfgs[n], args.train_batch, models[n])
        optims[n] = OptimWrapper(torch.optim.AdamW(
            models[n].parameters(), lr=1e-4, weight_decay=0.025))
    same_input = bool(torch.equal(batches['BoIR']['inputs'],
                                  batches['CID']['inputs']))

    def step(n):
        model, data = models[n], batches[n]
        _sync(device)
        t0 = time.perf_counter()
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        optims[n].update_params(loss)
        _sync(device)
        return time.perf_counter() - t0

    times = {n: [] for n in NAMES}
    for i in range(args.train_warmup + args.train_runs):
        for n in (NAMES if i % 2 == 0 else NAMES[::-1]):
            t = step(n)
            if i >= args.train_warmup:
                times[n].append(t)
    return {n: dict(train_step_ms=1e3 * statistics.median(times[n]),
                    train_step_min_ms=1e3 * min(times[n]),
                    runs_ms=[1e3 * t for t in times[n]],
                    batch_size=args.train_batch,
                    input_shape=list(batches[n]['inputs'].shape),
                    identical_input_tensors=same_input,
                    instances=sum(len(d.gt_instance_labels.instance_coords)
                                  for d in batches[n]['data_samples']))
            for n in NAMES}


def vectorised_decode(heatmaps: torch.Tensor, scores: torch.Tensor,
                      stride: float, kernel: int = 3):
    """The codec's decoding, as ``BoIRHead.predict_tensors`` calls it after
    the instance head."""
    kpts, kpt_scores = BoIRDecoupledHeatmap.decode_keypoints(heatmaps, kernel)
    kpt_scores = kpt_scores * scores[:, None]
    return (kpts * stride).cpu().numpy(), kpt_scores.cpu().numpy()


def _interleaved_times(fns: Dict[str, Callable], runs: int, warmup: int,
                       device: str,
                       setup: Optional[Callable] = None) -> Dict[str, Dict]:
    """Median and minimum time of each ``fn(setup())``, the functions run
    in turn (so that background load hits all alike); ``setup`` is not
    timed."""
    times = {k: [] for k in fns}
    for i in range(warmup + runs):
        for k, fn in fns.items():
            arg = setup() if setup is not None else None
            _sync(device)
            t0 = time.perf_counter()
            fn(arg)
            _sync(device)
            if i >= warmup:
                times[k].append(time.perf_counter() - t0)
    return {k: dict(median=statistics.median(v), min=min(v))
            for k, v in times.items()}


def random_boxes(num_images: int, num_boxes: int, size: int,
                 generator: torch.Generator) -> List[torch.Tensor]:
    """(x, y, w, h) boxes on a ``size`` x ``size`` map, some partly outside
    and some too small (they are skipped by the loss), in area order."""
    boxes = []
    for _ in range(num_images):
        wh = torch.rand(num_boxes, 2, generator=generator) * size * 0.5 + 1
        xy = torch.rand(num_boxes, 2, generator=generator) * size * 1.1 - \
            0.1 * size
        b = torch.cat((xy, wh), 1)
        boxes.append(b[(b[:, 2] * b[:, 3]).argsort()])
    return boxes


def bench_reference(args, device) -> Dict[str, Dict]:
    from mmpose_boir.models.losses.bbox_mask_loss import BboxMaskLoss
    g = torch.Generator().manual_seed(0)
    B, D, S, N = args.loss_batch, args.loss_channels, args.loss_size, \
        args.loss_boxes
    emb = torch.randn(B, D, S, S, generator=g).to(device)
    boxes = [b.to(device) for b in random_boxes(B, N, S, g)]
    out = {}
    for background in ('image', 'instance'):
        loss_fn = BboxMaskLoss(beta=10.0, background=background, center='box',
                               loss_weight=1.0)

        def vec(e):
            loss = loss_fn(e, boxes)
            loss.backward()
            return loss.detach(), e.grad

        def ref(e, background=background):
            loss = reference_bbox_mask_loss(e, boxes, 10.0, background,
                                            'box')
            loss.backward()
            return loss.detach(), e.grad

        def setup():
            return emb.clone().requires_grad_(True)

        lv, gv = vec(setup())
        lr, gr = ref(setup())
        t = _interleaved_times(dict(reference=ref, vectorised=vec),
                               args.micro_runs, 1, device, setup)
        out[f'bbox_mask_loss_{background}'] = dict(
            reference_ms=1e3 * t['reference']['median'],
            vectorised_ms=1e3 * t['vectorised']['median'],
            reference_min_ms=1e3 * t['reference']['min'],
            vectorised_min_ms=1e3 * t['vectorised']['min'],
            speedup=t['reference']['median'] / t['vectorised']['median'],
            loss=float(lv),
            abs_diff_loss=float((lv - lr).abs()),
            max_abs_diff_grad=float((gv - gr).abs().max()),
            max_abs_grad=float(gr.abs().max()),
            shape=dict(batch=B, channels=D, size=S, boxes_per_image=N),
            what='forward + backward (the embedding map copy is not timed)')

    # decoding: N instances of K heatmaps at the model's heatmap size
    K, hs = 17, args.decode_size
    hm = torch.rand(args.decode_instances, K, hs, hs, generator=g).to(device)
    scores = torch.rand(args.decode_instances, generator=g).to(device)
    kv, sv = vectorised_decode(hm, scores, 4.0)
    kr, sr = reference_decode(hm, scores, 4.0)
    t = _interleaved_times(
        dict(reference=lambda _: reference_decode(hm, scores, 4.0),
             vectorised=lambda _: vectorised_decode(hm, scores, 4.0)),
        args.micro_runs, 1, device)
    out['decoding'] = dict(
        reference_ms=1e3 * t['reference']['median'],
        vectorised_ms=1e3 * t['vectorised']['median'],
        reference_min_ms=1e3 * t['reference']['min'],
        vectorised_min_ms=1e3 * t['vectorised']['min'],
        speedup=t['reference']['median'] / t['vectorised']['median'],
        max_abs_diff_keypoints=float(np.abs(kv - kr).max()),
        max_abs_diff_scores=float(np.abs(sv - sr).max()),
        shape=dict(instances=args.decode_instances, keypoints=K,
                   size=hs),
        what='smoothing, argmax, quarter-cell refinement, scores, stride')
    return out


# ------------------------------------------------------------------ report
def _fmt(v, nd=1):
    if v is None:
        return '-'
    if isinstance(v, float):
        return f'{v:.{nd}f}'
    return str(v)


def print_report(res: Dict) -> None:
    rows = []

    def row(label, key, section, nd=1, scale=1.0, ratio=True):
        if section not in res:
            return
        b = res[section]['BoIR'].get(key)
        c = res[section]['CID'].get(key)
        if b is None or c is None:
            return
        r = (b / c) if ratio and c else None
        rows.append((label, _fmt(b * scale, nd), _fmt(c * scale, nd),
                     _fmt(r, 2) if r is not None else '-'))

    row('params (M)', 'params_m', 'complexity', 2)
    row('GFLOPs dense (backbone+neck+center)', 'gflops_dense', 'complexity',
        1)
    n = res.get('complexity', {}).get('BoIR', {}).get('instances_for_flops')
    row(f'GFLOPs instance head ({n} inst.)', 'gflops_instance_head',
        'complexity', 2)
    row('GFLOPs one pass (no flip)', 'gflops_single_pass', 'complexity', 1)
    row('latency median (ms)', 'latency_ms', 'inference')
    row('latency min (ms)', 'latency_min_ms', 'inference')
    row('  network (ms)', 'network_ms', 'inference')
    row('  post-network (ms)', 'post_network_ms', 'inference')
    row('  post-network share (%)', 'post_network_share', 'inference', 1,
        100.0, ratio=False)
    row('instances decoded', 'instances', 'inference', 0, ratio=False)
    row('peak inference memory (MiB)', 'peak_mib', 'memory')
    row('train step median (ms)', 'train_step_ms', 'training')
    row('train step min (ms)', 'train_step_min_ms', 'training')
    if rows:
        w0 = max(len(r[0]) for r in rows)
        print(f'\n{"":{w0}}  {"BoIR":>10}  {"CID":>10}  {"BoIR/CID":>8}')
        for r in rows:
            print(f'{r[0]:{w0}}  {r[1]:>10}  {r[2]:>10}  {r[3]:>8}')
    if 'reference' in res:
        print('\nvectorised vs per-instance Python loop (reference):')
        for k, v in res['reference'].items():
            diff = ', '.join(f'{kk} {vv:.2g}' for kk, vv in v.items()
                             if kk.startswith(('abs_diff', 'max_abs_diff')))
            print(f'  {k:26s} loop {v["reference_ms"]:8.1f} ms  '
                  f'vectorised {v["vectorised_ms"]:7.1f} ms  '
                  f'x{v["speedup"]:.1f}  ({diff}; {v["shape"]})')
    env = res['environment']
    print(f'\n{env["device"]}, torch {env["torch"]}, {env["threads"]} '
          f'threads, input {env["input"]}, flip test '
          f'{env["flip_test"]}, {env["seconds"]:.0f} s')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--boir-config', default=DEFAULT_BOIR)
    p.add_argument('--cid-config', default=None,
                   help="default: MMPose's CID HRNet-W32 COCO 512 config "
                   '(its backbone and input size are replaced by BoIR\'s)')
    p.add_argument('--boir-checkpoint', default=None)
    p.add_argument('--cid-checkpoint', default=None)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (default: 1 on CPU, see above)')
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--instances', type=int, default=30,
                   help='decode exactly this many people (threshold off); '
                   '0 keeps the configs\' max_instances and threshold')
    p.add_argument('--no-flip', action='store_true')
    p.add_argument('--train-batch', type=int, default=2)
    p.add_argument('--train-runs', type=int, default=3)
    p.add_argument('--train-warmup', type=int, default=2)
    p.add_argument('--micro-runs', type=int, default=5,
                   help='runs of the loss/decoding micro-benchmarks')
    p.add_argument('--loss-batch', type=int, default=8)
    p.add_argument('--loss-boxes', type=int, default=20)
    p.add_argument('--loss-channels', type=int, default=128)
    p.add_argument('--loss-size', type=int, default=128)
    p.add_argument('--decode-instances', type=int, default=30)
    p.add_argument('--decode-size', type=int, default=128)
    p.add_argument('--skip', nargs='*', default=[],
                   choices=['inference', 'memory', 'complexity', 'training',
                            'reference'])
    p.add_argument('--out', default=None, help='write the results as JSON')
    p.add_argument('--memory-worker', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.cid_config is None:
        args.cid_config = default_cid_config()
    return args


@contextmanager
def _quiet():
    """MMEngine's and MMPose's build-time logs off."""
    import logging
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is None and not args.device.startswith('cuda'):
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    # as FlushDenormalHook does in training: denormal gradients of the
    # N(0, 0.001)-initialised heads otherwise slow CPU steps ~50x
    torch.set_flush_denormal(True)
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    if args.memory_worker:
        with _quiet():
            memory_worker(args)
        return 0
    t_start = time.perf_counter()
    device = args.device
    cfgs = load_configs(args)
    res = {}
    steps = [('complexity', lambda: bench_complexity(args, cfgs)),
             ('inference', lambda: bench_inference(args, cfgs, device)),
             ('memory', lambda: bench_memory(args, cfgs, device)),
             ('training', lambda: bench_training(args, cfgs, device)),
             ('reference', lambda: bench_reference(args, device))]
    for name, fn in steps:
        if name in args.skip:
            continue
        t0 = time.perf_counter()
        with _quiet():
            res[name] = fn()
        print(f'[{name}] done in {time.perf_counter() - t0:.1f} s',
              flush=True)
    w, h = input_size_of(cfgs['BoIR'])
    res['ratios'] = _ratios(res)
    res['environment'] = dict(
        device=(torch.cuda.get_device_name() if device.startswith('cuda')
                else f'CPU {platform.processor() or platform.machine()} '
                f'({os.cpu_count()} cores)'),
        torch=torch.__version__, threads=torch.get_num_threads(),
        input=f'{w}x{h}', flip_test=not args.no_flip,
        boir_config=osp.relpath(args.boir_config, REPO),
        cid_config=args.cid_config, instances=args.instances,
        seconds=time.perf_counter() - t_start)
    print_report(res)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=2)
        print(f'results written to {args.out}')
    return 0


def _ratios(res: Dict) -> Dict[str, float]:
    keys = dict(complexity=('params_m', 'gflops_dense',
                            'gflops_instance_head', 'gflops_single_pass'),
                inference=('latency_ms', 'network_ms', 'post_network_ms'),
                memory=('peak_mib', ),
                training=('train_step_ms', ))
    out = {}
    for section, names in keys.items():
        for k in names:
            try:
                out[k] = res[section]['BoIR'][k] / res[section]['CID'][k]
            except (KeyError, ZeroDivisionError, TypeError):
                pass
    return out


if __name__ == '__main__':
    sys.exit(main())
