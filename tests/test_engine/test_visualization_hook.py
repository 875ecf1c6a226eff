"""mmpose_boir/engine/visualization_hook.py: ``--show-dir`` draws the
people that inference returns (above the hook's ``bbox_thr``, after pose
NMS), and leaves the evaluator's copy of the predictions as it was."""
import numpy as np


def test_show_dir_hook_draws_the_people_inference_returns():
    from mmengine.structures import InstanceData
    from mmengine.visualization import Visualizer
    from mmpose.structures import PoseDataSample

    from mmpose_boir.engine import BoIRVisualizationHook
    Visualizer.get_instance('kept_people')  # the hook's visualizer
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 400, (4, 17, 2)).astype(np.float32)
    keypoints[3] = keypoints[0] + 1  # a duplicate of person 0
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(
        keypoints=keypoints, keypoint_scores=np.full((4, 17), 0.5),
        bbox_scores=np.array([0.9, 0.5, 0.05, 0.8]),
        bboxes=np.zeros((4, 4)))
    hook = BoIRVisualizationHook(enable=True)
    assert hook.bbox_thr == 0.1  # tools/demo.py's --bbox-thr default
    kept, = hook.kept_people([sample], score_thr=hook.bbox_thr)
    np.testing.assert_array_equal(kept.pred_instances.bbox_scores,
                                  [0.9, 0.5])
    assert len(sample.pred_instances) == 4  # the evaluator's copy as it was
    kept, = BoIRVisualizationHook(pose_nms=False).kept_people([sample], None)
    assert len(kept.pred_instances) == 4
