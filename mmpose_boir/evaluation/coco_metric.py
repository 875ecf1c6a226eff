"""COCO keypoint evaluation of BoIR's results, as the release writes them."""
from typing import Sequence

from mmpose.evaluation.metrics import CocoMetric
from mmpose.registry import METRICS


@METRICS.register_module()
class BoIRCocoMetric(CocoMetric):
    """MMPose's ``CocoMetric`` whose results carry no person box.

    The release writes each person as ``image_id``, ``category_id``,
    ``keypoints`` and ``score`` only, so the COCO tools' ``loadRes`` gives
    each detection the area of the extent of **all** its keypoints. MMPose's
    ``CocoMetric`` also writes a ``bbox`` when the predictions have
    ``bboxes`` (BoIR's have: the extent of the confident keypoints), and
    ``loadRes`` then takes the area from that box. The area only sorts
    detections into the area ranges, so AP, AP50, AP75, AR (and CrowdPose's
    easy / medium / hard) are the same either way; AP(M), AP(L), AR(M) and
    AR(L) can differ.

    Args:
        write_bbox: ``False`` (the release): results without ``bbox``;
            ``True`` (opt-in, MMPose's): with the predicted boxes.
        **kwargs: ``CocoMetric``'s.
    """

    def __init__(self, *args, write_bbox: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.write_bbox = write_bbox

    def process(self, data_batch: Sequence[dict],
                data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        if not self.write_bbox:
            for pred, _ in self.results[start:]:
                pred.pop('bbox', None)
