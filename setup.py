"""mmpose-boir: BoIR (BMVC 2023) as an MMPose 1.x plugin.

The OpenMMLab stack cannot be resolved by pip alone (mmpose and openmim need
--no-deps, xtcocotools must match numpy): install with
``bash tools/install.sh``, which reads requirements/pinned.txt and then
installs this package. ``install_requires`` is left empty on purpose.
"""
import os.path as osp

from setuptools import find_packages, setup


def version() -> str:
    namespace: dict = {}
    path = osp.join(osp.dirname(__file__), 'mmpose_boir', 'version.py')
    exec(open(path).read(), namespace)
    return namespace['__version__']


setup(
    name='mmpose-boir',
    version=version(),
    description='BoIR (box-supervised instance representation for '
    'multi-person pose estimation) as an MMPose 1.x plugin',
    long_description=open('README.md').read() if osp.exists('README.md')
    else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmpose_boir', 'mmpose_boir.*']),
    python_requires='>=3.8',
    install_requires=[],  # see requirements/pinned.txt and tools/install.sh
    license='Apache-2.0',
)
