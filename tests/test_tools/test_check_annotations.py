"""tools/check_annotations.py: the datasets' load-time checks over a whole
annotation file, every problem listed, exit status 1 if any.

The tool's ``main`` runs in this process (its printed lines and return
value); one run through the command line checks that its exit status is
that return value and its output the same."""
import contextlib
import copy
import io
import json
import subprocess
import sys

import pytest

from conftest import COCO_SAMPLE_ANN as COCO
from conftest import CROWDPOSE_SAMPLE_ANN as CROWDPOSE
from conftest import repo_env
from mmpose_boir.datasets import AnnotationError, ValidatedCocoDataset
from tool_modules import load_tool

TOOL = 'tools/check_annotations.py'
check_annotations = load_tool('check_annotations')


def run(*args):
    """(exit status, printed lines) of the tool's ``main`` on ``args``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = check_annotations.main([str(a) for a in args])
    return rc, out.getvalue().strip().splitlines()


def run_cli(*args):
    """The same through ``python tools/check_annotations.py``."""
    proc = subprocess.run([sys.executable, TOOL, *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env=repo_env())
    return proc.returncode, proc.stdout.strip().splitlines()


def test_clean_file_one_line_summary():
    for extra in ([], ['--test-mode']):
        rc, lines = run(COCO, *extra)
        assert rc == 0, lines
        assert len(lines) == 1 and 'OK' in lines[0], lines
        assert '4 images and 14 annotations' in lines[0]


def test_crowdpose_test_file_is_clean_as_crowdpose():
    rc, lines = run(CROWDPOSE, '--dataset', 'crowdpose', '--test-mode')
    assert rc == 0 and len(lines) == 1, lines
    # read as a COCO file: 14 keypoints instead of 17, and no "area"
    rc, lines = run(CROWDPOSE, '--test-mode')
    assert rc == 1
    assert any("has 42 values but the dataset has 17" in x for x in lines)
    assert any("missing field 'area'" in x for x in lines)


@pytest.fixture
def bad_file(tmp_path):
    with open(COCO) as f:
        data = json.load(f)
    anns = data['annotations']
    img_name = {i['id']: i['file_name'] for i in data['images']}
    del anns[0]['area']                              # test mode only
    anns[1]['keypoints'] = anns[1]['keypoints'][:-3]  # 16 keypoints
    anns[2]['bbox'][1] = float('nan')
    anns[3]['keypoints'][0] = 1e30                   # beyond the threshold
    anns[4]['iscrowd'] = 2
    anns[4]['keypoints'][2] = -1                     # two in one annotation
    anns[5]['image_id'] = 999                        # unknown image
    del anns[6]['category_id']
    data['images'][0]['width'] = 0
    path = tmp_path / 'bad.json'
    with open(path, 'w') as f:
        json.dump(data, f)
    return path, data, img_name


def test_bad_file_lists_every_problem(bad_file):
    path, data, img_name = bad_file
    rc, lines = run(path)
    assert rc == 1
    assert run_cli(path) == (rc, lines)
    problems, summary = lines[:-1], lines[-1]
    assert summary.startswith(f'{len(problems)} problems in {path}')
    assert all(x.startswith(f'{path}: ') for x in problems), problems
    anns = data['annotations']

    def about(i, text):
        ann = anns[i]
        return [x for x in problems if f'annotation id {ann["id"]} ' in x
                and f"'{img_name.get(ann['image_id'], '?')}'" in x
                and text in x]

    assert about(1, '"keypoints" has 48 values but the dataset has 17')
    assert about(2, "'bbox' has non-finite values")
    assert about(3, "'keypoints' has values beyond +-1e+06")
    assert about(4, '"iscrowd" must be 0 or 1')
    assert about(4, 'negative visibilities')
    assert any(f'annotation id {anns[6]["id"]} of image id '
               f'{anns[6]["image_id"]} (annotations[6]): missing field '
               "'category_id'" in x for x in problems), problems
    assert any(f'annotation ids [{anns[5]["id"]}] refer to image ids' in x
               for x in problems)
    assert any(f'image id {data["images"][0]["id"]} ' in x
               and "'width' must be a positive number" in x
               for x in problems)
    # "area" is only needed by the evaluator
    assert not about(0, 'area')
    assert len(problems) == 8, problems

    rc, test_lines = run(path, '--test-mode')
    assert rc == 1
    assert len(test_lines) - 1 == len(problems) + 1
    problems = test_lines[:-1]
    assert about(0, "missing field 'area'")


def test_the_dataset_stops_at_the_first_of_the_same_problems(bad_file):
    path, _, _ = bad_file
    _, lines = run(path)
    with pytest.raises(AnnotationError) as info:
        ValidatedCocoDataset(ann_file=str(path), data_mode='bottomup',
                             data_prefix=dict(img=''), pipeline=[])
    assert str(info.value).startswith(lines[0])
    assert 'tools/check_annotations.py' in str(info.value)


def test_missing_area_fails_at_load_in_test_mode(tmp_path):
    """Not after the inference pass, with a bare KeyError from COCOeval."""
    with open(COCO) as f:
        data = json.load(f)
    ann = data['annotations'][2]
    del ann['area']
    path = tmp_path / 'no_area.json'
    path.write_text(json.dumps(data))
    kwargs = dict(ann_file=str(path), data_mode='bottomup',
                  data_prefix=dict(img=''), pipeline=[])
    assert len(ValidatedCocoDataset(**copy.deepcopy(kwargs))) > 0  # training
    with pytest.raises(AnnotationError) as info:
        ValidatedCocoDataset(test_mode=True, **kwargs)
    message = str(info.value)
    assert str(path) in message and f'annotation id {ann["id"]} ' in message
    assert f'(id {ann["image_id"]})' in message
    assert "missing field 'area'" in message


def test_unreadable_file(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('{"images": [')
    rc, lines = run(path)
    assert rc == 1 and str(path) in lines[0]
