"""One explicit switch for fast PyTorch inference of a built BoIR model."""
import torch
from torch import nn


def switch_to_fast_inference(model: nn.Module,
                             channels_last: bool = True) -> nn.Module:
    """Switch a built model (an MMPose estimator with a ``BoIRHead``, e.g.
    ``MMPoseInferencer(...).inferencer.model``) to fast inference, in place;
    returns it in eval mode. Not undone: it is for prediction only.

    * MMPose's ``model.switch_to_deploy()``: every sub-module's deploy
      switch, here the instance keypoint head's inference form
      (``InstanceKeypointHead.forward_deploy``);
    * with ``channels_last``, the backbone's input in the channels-last
      (NHWC) memory format (a forward pre-hook), which every conv, norm and
      resize then keeps: oneDNN's NHWC kernels are faster at one CPU thread
      (HRNet about 1.2x, the ASPP neck's dilated convs about 1.8x). The
      release runs NCHW.

    Predictions equal the plain model's up to float rounding (tested).
    """
    model.switch_to_deploy()
    if channels_last:
        model.backbone.register_forward_pre_hook(_channels_last_input)
    return model.eval()


def _channels_last_input(module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last),
            *args[1:])
