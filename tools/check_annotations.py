"""Check a COCO-style keypoint annotation file before a long training run.

Runs the load-time checks of the validated datasets
(``mmpose_boir.datasets.annotation_checks``) over the whole file, without images,
and prints every problem, each naming the file, image, annotation id and
field. Exit status 1 if there is any, 0 and a one-line summary otherwise.

    python tools/check_annotations.py \\
        data/coco/annotations/person_keypoints_train2017.json
    python tools/check_annotations.py \\
        data/coco/annotations/person_keypoints_val2017.json --test-mode
    python tools/check_annotations.py \\
        data/crowdpose/annotations/mmpose_crowdpose_test.json \\
        --dataset crowdpose --test-mode

``--test-mode`` also requires what the evaluator reads (as the datasets do
for val / test): ``area`` of every annotation on COCO and OCHuman;
``num_keypoints`` of every annotation and ``crowdIndex`` of every image on
CrowdPose; ``categories`` naming every ``category_id``.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_boir.datasets.annotation_checks import (  # noqa: E402
    EVAL_FIELDS, NUM_KEYPOINTS, annotation_file_problems)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='List every problem of a COCO-style keypoint annotation '
        'file (the checks the BoIR datasets run when they load it).')
    parser.add_argument('ann_file', help='the annotation JSON file')
    parser.add_argument('--dataset', choices=sorted(EVAL_FIELDS),
                        default='coco',
                        help='the dataset the file is for: its number of '
                        'keypoints and evaluation fields (default: coco)')
    parser.add_argument('--test-mode', action='store_true',
                        help='check it as a val / test file: also require '
                        'the fields the evaluator reads')
    parser.add_argument('--num-keypoints', type=int, default=None,
                        help='keypoints per person (default: 17 for coco '
                        'and ochuman, 14 for crowdpose)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    num_keypoints = args.num_keypoints or NUM_KEYPOINTS[args.dataset]
    try:
        with open(args.ann_file) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f'{args.ann_file}: cannot be read as JSON ({e})')
        print('1 problem')
        return 1
    problems = annotation_file_problems(data, args.ann_file, num_keypoints,
                                        args.test_mode, args.dataset)
    mode = 'test' if args.test_mode else 'training'
    if problems:
        for problem in problems:
            print(problem)
        print(f'{len(problems)} problem{"s" * (len(problems) != 1)} in '
              f'{args.ann_file} (checked as a {args.dataset} {mode} file)')
        return 1
    images = data.get('images', [])
    anns = data.get('annotations', [])
    print(f'{args.ann_file}: OK, {len(images)} images and {len(anns)} '
          f'annotations pass the {args.dataset} {mode}-mode checks')
    return 0


if __name__ == '__main__':
    sys.exit(main())
