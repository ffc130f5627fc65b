"""Every config file in configs/ is built and run one step by some test (so none can rot)."""
import glob
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_every_config_is_covered_by_a_one_step_test():
    configs = {osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                                       recursive=True)
               if '_base_' not in p}
    assert configs, 'no configs found'
    here = osp.dirname(osp.abspath(__file__))
    test_text = ''.join(open(p).read() for p in glob.glob(osp.join(here, 'test_*.py')))
    from test_finetune_configs import FINETUNE
    from test_pretrain_configs import PRETRAIN
    run = {osp.relpath(p, ROOT) for p in FINETUNE + PRETRAIN}
    # TimeSformer configs are run by name in test_timesformer_configs.py
    run |= {f'configs/{d}/{m}' for d, m in re.findall(r"configs/(bevt|toy)/(\w+\.py)", test_text)
            if 'timesformer' in m}
    missing = sorted(configs - run)
    assert not missing, f'configs without a one-step test: {missing}'
