"""Check a config's pipelines and evaluators before anything runs.

A typo in a transform's argument (``input_sise``) or a number given as text
(``nms_thr=0.5x`` through ``--cfg-options``) otherwise surfaces as a raw
``TypeError`` when a dataset is built, or only after a whole inference
pass, when the evaluator first uses the value. :func:`check_config` reads
the config only (nothing is built, no file is opened) and raises
:class:`ConfigCheckError` naming the config key, the transform or metric
and, for an unknown name, the closest known one.

What is checked, for every transform of the train / val / test
dataloaders' pipelines (datasets wrapped in other datasets included, and
dicts with a ``type`` nested in a transform's arguments, e.g. a codec given
as ``encoder``) and for the val / test evaluators' metrics:

- the ``type`` is registered (MMPose's registries, and so MMCV's);
- every argument is one that the class's ``__init__`` takes (following
  ``**kwargs`` up the class's bases, as ``BoIRBottomupResize`` passes them
  to MMPose's ``BottomupResize``);
- an argument annotated (or defaulting) as a number, a bool or a string
  gets a value of that kind: ``'0.5x'`` for a ``float`` is refused.

``tools/train.py``, ``tools/test.py``, ``tools/demo.py``,
``tools/vis_embedding.py``, ``tools/export_onnx.py`` and
``tools/overfit_tiny.py`` call it on the config as merged with
``--cfg-options`` (:func:`load_checked_config`). MMPose's own entry points
(``mim train`` / ``mim test``) do not: they cannot be hooked without a
process-wide effect of importing this package. Call it yourself in your own scripts::

    from mmpose_boir.engine.config_check import check_config
    check_config(cfg)   # an mmengine Config, after merge_from_dict
"""
import difflib
import inspect
import typing
from typing import Iterator, List, Optional, Tuple

__all__ = ['ConfigCheckError', 'check_config', 'load_checked_config']


class ConfigCheckError(ValueError):
    """A config entry that would fail later; the message names it."""


_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_EVALUATORS = ('val_evaluator', 'test_evaluator')
_SIMPLE = (bool, int, float, str, type(None))


def _closest(name: str, candidates) -> str:
    match = difflib.get_close_matches(name, sorted(candidates), n=1,
                                      cutoff=0.6)
    return f' (did you mean {match[0]}?)' if match else ''


def _registered_names(registry) -> List[str]:
    names, reg = [], registry
    while reg is not None:
        names += list(reg.module_dict)
        reg = reg.parent
    return names


def _init_parameters(cls) -> Tuple[dict, dict, bool]:
    """The keyword arguments that ``cls(...)`` accepts: ``{name: default}``,
    ``{name: annotation}`` and whether any name is accepted (a ``**kwargs``
    that no base class resolves)."""
    params, hints = {}, {}
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            return params, hints, True
        try:
            resolved = typing.get_type_hints(init)
        except Exception:  # unresolvable annotations: no type checks
            resolved = {}
        forwards = False
        for p in list(sig.parameters.values())[1:]:  # without self
            if p.kind is p.VAR_KEYWORD:
                forwards = True
            elif p.kind is not p.VAR_POSITIONAL and p.name not in params:
                params[p.name] = p.default
                if p.name in resolved:
                    hints[p.name] = resolved[p.name]
        if not forwards:
            return params, hints, False
        if klass is object:
            break
    return params, hints, True


def _kinds(annotation, default) -> Optional[Tuple[type, ...]]:
    """The simple types an argument takes, or None when it is not only
    simple types (lists, dicts, classes: not checked)."""
    if annotation is not None:
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is typing.Union:
            kinds = args
        else:
            kinds = (annotation, )
        if all(k in _SIMPLE for k in kinds):
            return tuple(kinds)
        return None
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return (int, float)  # a numeric default without annotation
    return None


def _fits(value, kinds: Tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds or int in kinds
    if isinstance(value, (int, float)):
        return bool(set(kinds) & {int, float}) or (
            isinstance(value, int) and bool in kinds)
    if isinstance(value, str):
        return str in kinds
    if value is None:
        return type(None) in kinds
    return True  # lists, dicts, ...: not judged here


def _kind_names(kinds) -> str:
    names = [k.__name__ if k is not type(None) else 'None' for k in kinds]
    return ' or '.join(dict.fromkeys(names))


def _check_entry(entry: dict, registry, where: str, what: str,
                 extra_registries=()) -> None:
    """One ``dict(type=..., **kwargs)`` entry against ``registry``."""
    type_ = entry.get('type')
    if not isinstance(type_, str):
        return  # a class or a function given directly: nothing to look up
    cls = registry.get(type_)
    if cls is None:
        raise ConfigCheckError(
            f'{where}: unknown {what} type {type_!r}'
            f'{_closest(type_, _registered_names(registry))}')
    if not inspect.isclass(cls):
        return
    params, hints, any_name = _init_parameters(cls)
    for key, value in entry.items():
        # _scope_: MMEngine's registry scope, which it adds to a dict that a
        # config takes from a base of another package (`_base_.codec` of an
        # `mmpose::` base); every build accepts it
        if key in ('type', '_scope_'):
            continue
        if key not in params:
            if any_name:
                continue
            raise ConfigCheckError(
                f'{where}: {what} {type_} has no argument {key!r}'
                f'{_closest(key, params)}; its arguments: '
                f'{", ".join(params)}')
        default = params[key]
        same = value is default or (
            isinstance(value, (bool, int, float, str)) and
            type(value) is type(default) and value == default)
        kinds = _kinds(hints.get(key), default)
        if not same and kinds is not None and not _fits(value, kinds):
            raise ConfigCheckError(
                f'{where}: {what} {type_} argument {key}={value!r} is a '
                f'{type(value).__name__}, expected {_kind_names(kinds)}')
        for i, nested in enumerate(value if isinstance(value, (list, tuple))
                                   else [value]):
            if not (isinstance(nested, dict) and 'type' in nested):
                continue
            sub = f'{where}.{key}' + (
                f'[{i}]' if isinstance(value, (list, tuple)) else '')
            for reg, kind in ((registry, what), *extra_registries):
                if isinstance(nested['type'], str) and \
                        reg.get(nested['type']) is not None:
                    _check_entry(nested, reg, sub, kind, extra_registries)
                    break


def _datasets(dataset, where: str) -> Iterator[Tuple[dict, str]]:
    """A dataset config and the datasets wrapped in it."""
    if not isinstance(dataset, dict):
        return
    yield dataset, where
    if isinstance(dataset.get('dataset'), dict):
        yield from _datasets(dataset['dataset'], f'{where}.dataset')
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from _datasets(inner, f'{where}.datasets[{i}]')


def check_config(cfg) -> None:
    """Raise :class:`ConfigCheckError` for the first transform or metric
    entry of ``cfg`` (an ``mmengine.Config`` or dict) that would fail when
    built or used (see the module's docstring)."""
    from mmpose.registry import KEYPOINT_CODECS, METRICS, TRANSFORMS
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    codecs = ((KEYPOINT_CODECS, 'codec'), )
    for name in _LOADERS:
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        for dataset, where in _datasets(loader.get('dataset'),
                                        f'{name}.dataset'):
            for i, step in enumerate(dataset.get('pipeline') or []):
                if isinstance(step, dict):
                    _check_entry(step, TRANSFORMS, f'{where}.pipeline[{i}]',
                                 'transform', codecs)
    for name in _EVALUATORS:
        evaluator = cfg.get(name)
        if isinstance(evaluator, dict) and 'metrics' in evaluator:
            evaluator = evaluator['metrics']
        entries = evaluator if isinstance(evaluator, (list, tuple)) else \
            [evaluator]
        for i, metric in enumerate(entries):
            if isinstance(metric, dict):
                where = name + (f'[{i}]' if len(entries) > 1 else '')
                _check_entry(metric, METRICS, where, 'metric')


def load_checked_config(config: str, cfg_options: Optional[dict] = None):
    """``Config.fromfile(config)`` merged with ``cfg_options`` and checked
    by :func:`check_config`; a problem raises :class:`ConfigCheckError`
    whose message starts with ``config <file>:``."""
    import os.path as osp

    from mmengine.config import Config
    if not osp.isfile(config):
        raise ConfigCheckError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    try:
        check_config(cfg)
    except ConfigCheckError as exc:
        raise ConfigCheckError(f'config {config}: {exc}') from None
    return cfg
