"""MMEngine's optimizer-wrapper constructor with the release's AMP start."""
from mmengine.optim import AmpOptimWrapper, DefaultOptimWrapperConstructor
from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS

#: The release's initial AMP loss scale (``GradScaler(init_scale=16384)``);
#: MMEngine's dynamic loss scale starts at PyTorch's default, 2^16.
RELEASE_INIT_SCALE = 2.**14


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BoIROptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` whose mixed-precision wrappers start
    at the release's loss scale.

    When the wrapper is an ``AmpOptimWrapper`` (or a subclass) with a dynamic
    loss scale (``loss_scale='dynamic'``, what ``tools/train.py --amp`` and
    ``mim train mmpose ... --amp`` set, or no ``loss_scale``), it gets
    ``loss_scale=dict(init_scale=2**14)``: the same dynamic scaling
    (growth x2 every 2000 steps without overflow, halving on overflow),
    started where the release starts. Any other ``loss_scale`` (a number for
    a static scale, a dict of ``GradScaler`` arguments) is kept, and so is
    everything else. A resumed run loads the saved scaler state over it.
    MMEngine's start (2^16): ``optim_wrapper.constructor=
    'DefaultOptimWrapperConstructor'``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        wrapper_type = self.optim_wrapper_cfg.get('type', 'OptimWrapper')
        if isinstance(wrapper_type, str):
            wrapper_type = OPTIM_WRAPPERS.get(wrapper_type)
        is_amp = isinstance(wrapper_type, type) and issubclass(
            wrapper_type, AmpOptimWrapper)
        if is_amp and self.optim_wrapper_cfg.get('loss_scale',
                                                 'dynamic') == 'dynamic':
            self.optim_wrapper_cfg['loss_scale'] = dict(
                init_scale=RELEASE_INIT_SCALE)
