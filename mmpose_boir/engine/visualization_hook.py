"""The test-time pictures (``--show-dir``) show the people that inference
returns, not every candidate that the evaluation scores."""
from typing import List, Optional, Sequence

from mmpose.engine.hooks import PoseVisualizationHook
from mmpose.evaluation.functional import nearby_joints_nms
from mmpose.registry import HOOKS


@HOOKS.register_module()
class BoIRVisualizationHook(PoseVisualizationHook):
    """MMPose's ``PoseVisualizationHook`` drawing the people that BoIR
    returns for an image outside a dataset.

    In a dataset run (``tools/test.py``, ``mim test``, validation) BoIR
    returns every candidate of its decoder (``test_cfg.max_instances``, 30,
    above the configs' ``test_cfg.score_thr``, the release's 0.01): the
    COCO evaluation scores them all, as the release evaluates them. Drawn
    as they are (MMPose's hook), most are boxes without a keypoint above
    ``kpt_thr``. This hook draws what ``tools/demo.py`` returns for the same
    image: the people whose center score is above ``bbox_thr`` (the demo's
    ``--bbox-thr`` default, 0.1), after MMPose's pose NMS
    (``nearby_joints_nms``, the inferencer's ``pose_based_nms``). It draws
    copies: what the evaluator scores is unchanged.

    The BoIR configs use it in ``default_hooks.visualization``; MMPose's
    ``--show-dir`` / ``--show`` switch it on as they do MMPose's hook.

    Args:
        bbox_thr: draw people whose center score is above it.
        pose_nms: merge poses of one person found from two centers.
        **kwargs: ``PoseVisualizationHook``'s (``enable``, ``interval``,
            ``kpt_thr``, ``show``, ``out_dir``, ...).
    """

    def __init__(self, bbox_thr: float = 0.1, pose_nms: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.bbox_thr = bbox_thr
        self.pose_nms = pose_nms

    def kept_people(self, outputs: Sequence, score_thr: Optional[float]
                    ) -> List:
        """Copies of ``outputs`` with the people that inference returns."""
        kept = []
        for sample in outputs:
            sample = sample.clone()
            people = sample.pred_instances
            if score_thr is not None and 'bbox_scores' in people:
                people = people[people.bbox_scores > score_thr]
            if self.pose_nms and len(people) > 1:
                keypoints, scores = people.keypoints, people.bbox_scores
                keep = nearby_joints_nms(
                    [dict(keypoints=keypoints[i], score=scores[i])
                     for i in range(len(people))],
                    num_nearby_joints_thr=keypoints.shape[-2] // 3)
                people = people[keep]
            sample.pred_instances = people
            kept.append(sample)
        return kept

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence) -> None:
        if self.enable:
            outputs = self.kept_people(outputs, self.bbox_thr)
        super().after_val_iter(runner, batch_idx, data_batch, outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        if self.enable:
            outputs = self.kept_people(outputs, self.bbox_thr)
        super().after_test_iter(runner, batch_idx, data_batch, outputs)
