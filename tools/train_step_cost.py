"""Training cost of configs side by side: time per step and peak memory.

    python tools/train_step_cost.py CONFIG_A CONFIG_B [--iters 5] \
        [--warmup 1] [--rounds 2] [--threads 1] [--cfg-options k=v ...]

Each measurement runs in a fresh process (so that its peak memory is its
own), the configs alternating (A, B, A, B, ... for ``--rounds``): the
model is built from the config (backbone weights left random: no
download), the first ``--warmup + --iters`` batches of its training
dataloader are read (in the process, ``num_workers=0``), then each of the
``--iters`` timed steps is MMEngine's ``model.train_step`` (data
preprocessor, forward, losses, backward, optimizer step) with the config's
``optim_wrapper``, denormal floats flushed to zero when the config has
``FlushDenormalHook`` or with ``--flush-denormal``. Printed per config:
the median step time, the data pipeline time per batch and the process's
peak resident memory (Linux ``ru_maxrss``), with the spread over the
rounds; ``--out`` saves them as JSON. ``--cfg-options`` applies to every
config (e.g. to point the training set at other images). A config is a
file or a package's config (``mmpose::body_2d_keypoint/...``).
"""
import argparse
import json
import multiprocessing as mp
import statistics
import time


def _measure(config: str, cfg_options: dict, iters: int, warmup: int,
             threads: int, flush_denormal: bool, queue) -> None:
    """One measurement, in its own process; puts a dict on ``queue``."""
    import resource

    import torch
    torch.set_num_threads(threads)
    import mmpose_boir  # noqa: F401
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpose.registry import MODELS

    if '::' in config:  # a package's config, e.g. mmpose::body_2d_keypoint/...
        from mmengine.hub import get_config
        cfg = get_config(config)
    else:
        cfg = Config.fromfile(config)
    cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    cfg.model.backbone.init_cfg = None
    # as FlushDenormalHook does for the configs that have it
    flush_denormal = flush_denormal or any(
        h.get('type') == 'FlushDenormalHook'
        for h in cfg.get('custom_hooks', []))
    torch.set_flush_denormal(flush_denormal)
    loader_cfg = dict(cfg.train_dataloader, num_workers=0,
                      persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    t0 = time.perf_counter()
    batches = []
    while len(batches) < warmup + iters:
        for batch in loader:
            batches.append(batch)
            if len(batches) == warmup + iters:
                break
    data_s = (time.perf_counter() - t0) / len(batches)
    model = MODELS.build(cfg.model).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    times = []
    for i, batch in enumerate(batches):
        t0 = time.perf_counter()
        losses = model.train_step(batch, optim_wrapper)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    queue.put(dict(
        step_s=statistics.median(times), data_s=data_s,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss /
        1024, batch_size=cfg.train_dataloader.batch_size,
        flush_denormal=flush_denormal,
        losses=sorted(k for k in losses if k.startswith(('loss', 'aux')))))


def measure(configs, cfg_options=None, iters=5, warmup=1, rounds=2,
            threads=1, flush_denormal=False):
    """{config: list of per-round results}, the configs alternating."""
    ctx = mp.get_context('spawn')
    results = {c: [] for c in configs}
    for _ in range(rounds):
        for config in configs:
            queue = ctx.Queue()
            proc = ctx.Process(target=_measure, args=(
                config, cfg_options or {}, iters, warmup, threads,
                flush_denormal, queue))
            proc.start()
            proc.join()
            if proc.exitcode != 0:
                raise SystemExit(f'error: measuring {config} failed (exit '
                                 f'code {proc.exitcode}, see above)')
            results[config].append(queue.get())
    return results


def _spread(values, fmt):
    lo, hi = min(values), max(values)
    mid = statistics.median(values)
    return fmt.format(mid) + ('' if lo == hi else
                              f' ({fmt.format(lo)}-{fmt.format(hi)})')


def main() -> None:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--flush-denormal', action='store_true',
        help='flush denormal floats to zero on CPU (on anyway for configs '
        'with FlushDenormalHook); without it, the tiny activations of '
        'freshly initialised heads can make CPU steps many times slower')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    parser.add_argument('--out', help='save the results as JSON')
    args = parser.parse_args()
    if args.iters < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error('--iters and --rounds must be >= 1, --warmup >= 0')
    results = measure(args.configs, args.cfg_options, args.iters,
                      args.warmup, args.rounds, args.threads,
                      args.flush_denormal)
    print(f'{args.threads} thread(s), {args.iters} timed steps after '
          f'{args.warmup} warm-up, {args.rounds} round(s); median (range)')
    print('| config | batch | flush denormal | step (s) | data per batch (s) '
          '| peak RSS (MiB) | losses |')
    print('|---|---|---|---|---|---|---|')
    for config, runs in results.items():
        print(f'| {config} | {runs[0]["batch_size"]} | '
              f'{runs[0]["flush_denormal"]} | '
              f'{_spread([r["step_s"] for r in runs], "{:.3f}")} | '
              f'{_spread([r["data_s"] for r in runs], "{:.3f}")} | '
              f'{_spread([r["peak_rss_mib"] for r in runs], "{:.0f}")} | '
              f'{", ".join(runs[0]["losses"])} |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
