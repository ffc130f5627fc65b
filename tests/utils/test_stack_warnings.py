"""The stack's noise warnings are hidden by message and module, and nothing else is."""
import os.path as osp
import subprocess
import sys
import warnings

import pytest

from bevt_mm.utils.stack_warnings import (STACK_NOISE, ignore_stack_noise, ignoring,
                                          quiet_stack_logs)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: each noise warning as its emitter prints it: (message, module)
NOISE = [
    ('Fail to import ``MultiScaleDeformableAttention`` from ``mmcv.ops.multi_scale_deform_attn``, '
     'You should install ``mmcv`` rather than ``mmcv-lite`` if you need this module. ',
     'mmcv.cnn.bricks.transformer'),
    ('pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/'
     'pkg_resources.html.', 'mmengine.utils.package_utils'),
    ('pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/'
     'pkg_resources.html.', 'importlib'),
    ('torch.meshgrid: in an upcoming release, it will be required to pass the indexing '
     'argument.', 'torch.functional'),
]


def _shown(message: str, module: str) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('default')
        ignore_stack_noise()
        warnings.warn_explicit(message, UserWarning, module.replace('.', '/') + '.py', 1,
                               module=module, registry={})
    return bool(caught)


@pytest.mark.parametrize('message, module', NOISE)
def test_noise_is_hidden_only_from_its_module(message, module):
    assert not _shown(message, module)
    assert _shown(message, 'user_code')  # the same text from elsewhere still prints
    assert _shown('some other warning', module)  # the module's other warnings still print


def test_every_noise_entry_is_exercised():
    assert len(STACK_NOISE) == 3 and {m for _, m in NOISE} >= {
        'mmcv.cnn.bricks.transformer', 'mmengine.utils.package_utils', 'torch.functional'}


def test_ignoring_removes_only_its_own_filter():
    with warnings.catch_warnings():
        before = list(warnings.filters)
        with ignoring('noise', UserWarning, 'm'):
            warnings.filterwarnings('always', message='a library adds this at its import')
        assert warnings.filters[1:] == before and 'library' in warnings.filters[0][1].pattern


def test_ignoring_leaves_the_same_filter_set_before_it_in_place():
    """A user (or a script's ignore_stack_noise) who already ignores the warning keeps
    ignoring it after the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='noise', category=UserWarning, module='m')
        before = list(warnings.filters)
        with ignoring('noise', UserWarning, 'm'):
            pass
        assert warnings.filters == before


def test_quiet_stack_logs_drops_only_the_file_client_notices(tmp_path):
    """What MMAction2's DecordInit logs through mmengine's FileClient('disk'), as printed."""
    from mmengine.fileio import FileClient
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance(f'stack_noise_{tmp_path.name}', log_file=str(tmp_path / 'l.log'))
    quiet_stack_logs(logger)
    quiet_stack_logs(logger)  # once is enough: no second filter
    assert len(logger.filters) == 1
    FileClient._instances.pop('disk:None', None)  # the 'disk' backend is built (and logs) anew
    FileClient('disk')
    logger.warning('a warning about the run')
    for handler in logger.handlers:
        handler.flush()
    text = (tmp_path / 'l.log').read_text()
    assert 'a warning about the run' in text
    assert 'FileClient' not in text and 'HardDiskBackend' not in text, text


@pytest.mark.slow
def test_a_tool_and_a_config_load_print_no_stack_noise():
    """`tools/test.py --help`, then a toy config with a ``mmaction::`` base and its stock
    Swin built in the same process: no noise on stderr (before: the mmcv-lite warning at
    import, pkg_resources at each config load, torch.meshgrid at the Swin's build)."""
    code = ('import runpy, sys\n'
            'sys.argv = ["tools/test.py", "--help"]\n'
            'ns = runpy.run_path("tools/test.py")\n'
            'try:\n'
            '    ns["main"]()\n'
            'except SystemExit:\n'
            '    pass\n'
            'from mmengine.config import Config\n'
            'from mmaction.registry import MODELS\n'
            'cfg = Config.fromfile("configs/toy/toy_finetune_swin_spatial.py")\n'
            'MODELS.build(cfg.model.backbone)\n'
            'print("built")\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and 'built' in proc.stdout, proc.stderr[-2000:]
    keys = ('MultiScaleDeformableAttention', 'pkg_resources is deprecated', 'torch.meshgrid')
    noise = [line for line in proc.stderr.splitlines() if any(k in line for k in keys)]
    assert not noise, '\n'.join(noise)
