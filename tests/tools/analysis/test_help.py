"""Every script of tools/analysis/ and demo/ is a CLI: `--help` prints its usage and exits 0."""
import glob
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
SCRIPTS = sorted(osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'tools', 'analysis', '*.py'))
                 + glob.glob(osp.join(REPO, 'demo', '*.py')))


def test_the_scripts_are_found():
    names = {osp.basename(p) for p in SCRIPTS}
    assert {'benchmark.py', 'benchmark_data.py', 'flops.py', 'attention_check.py', 'probe.py',
            'toy_demo.py', 'toy_ablation.py'} <= names


@pytest.mark.parametrize('script', SCRIPTS)
def test_help_prints_usage(script, load_tool, capsys):
    tool = load_tool(script)
    assert hasattr(tool, 'main'), f'{script} has no main()'
    with pytest.raises(SystemExit) as exc:
        tool.main(['--help'])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith('usage:')
