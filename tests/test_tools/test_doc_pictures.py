"""tools/doc_pictures.sh, the one command behind the pictures in docs/,
runs end to end (shortened to 1 training iteration, into a temporary
folder) and writes both pictures: the real command-line runs of
tools/overfit_tiny.py, tools/demo.py and tools/vis_embedding.py (their
other tests call them in the test process)."""
import os
import os.path as osp
import subprocess

import cv2
import pytest

from conftest import COCO_SAMPLES
from conftest import REPO_ROOT as REPO
from conftest import repo_env

IMAGE = osp.join(REPO, COCO_SAMPLES, '000000197388.jpg')


@pytest.mark.skipif(not osp.isfile(IMAGE), reason='sample image not found')
def test_doc_pictures_writes_both_pictures(tmp_path):
    work, out = tmp_path / 'work', tmp_path / 'images'
    env = dict(repo_env(), DOC_PICTURES_ITERS='1', DOC_PICTURES_MIN_AP='0')
    proc = subprocess.run(['bash', 'tools/doc_pictures.sh', str(work),
                           str(out)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    names = sorted(os.listdir(out))
    assert names == ['demo_boir_tiny_overfit.jpg',
                     'embedding_boir_tiny_overfit.png']
    for name in names:
        img = cv2.imread(str(out / name))
        assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    assert (work / 'boir_tiny_overfit.py').is_file()
    assert (work / 'epoch_1.pth').is_file()
    # tools/overfit_tiny.py names the checkpoint it kept and its config
    assert (f"overfit: checkpoint {work / 'epoch_1.pth'}, with its config "
            f"{work / 'boir_tiny_overfit.py'}") in proc.stdout, proc.stdout
