"""tools/slurm_train.sh and tools/slurm_test.sh: they parse, build the srun
command (``SLURM_DRY_RUN=1`` prints it) with the GPUs, the launcher and the
tool's arguments, and print their usage without arguments. bash only."""
import subprocess

from conftest import REPO_ROOT, TINY_CONFIG, repo_env

TINY = TINY_CONFIG


def _run(*args, timeout=300, env=None):
    return subprocess.run([*map(str, args)], cwd=REPO_ROOT,
                          env=env or repo_env(), capture_output=True,
                          text=True, timeout=timeout)


def test_slurm_scripts_parse_and_build_the_srun_command(tmp_path):
    for script, tool in (('tools/slurm_train.sh', 'tools/train.py'),
                         ('tools/slurm_test.sh', 'tools/test.py')):
        assert _run('bash', '-n', script).returncode == 0
        env = dict(repo_env(), SLURM_DRY_RUN='1', GPUS='16',
                   SRUN_ARGS='--time=10 --mem=8G')
        proc = _run('bash', script, 'gpu', 'boir', TINY, 'X',
                    '--cfg-options', 'a=1', env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        cmd = proc.stdout.split()
        assert cmd[:3] == ['srun', '-p', 'gpu']
        for part in ('--ntasks=16', '--ntasks-per-node=8', '--gres=gpu:8',
                     '--time=10', '--mem=8G', '--launcher=slurm', TINY,
                     '--cfg-options', 'a=1'):
            assert part in cmd, (script, part, cmd)
        assert cmd[cmd.index('-u') + 1].endswith(tool)
        usage = _run('bash', script, 'gpu')
        assert usage.returncode == 2 and 'usage:' in usage.stderr
