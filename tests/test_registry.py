"""`import bevt_mm` registers every public BEVT type into MMAction2's registries (scope mmaction)."""
import subprocess
import sys

import pytest

PUBLIC = {
    'MODELS': ['BEVTSwinTransformer3D', 'BEVTTimeSformer', 'BEVT', 'BEVTHead', 'BEVTPlainHead',
               'BEVTDataPreprocessor', 'DALLETokenizer', 'VQKDTokenizer', 'VQVAETokenizer'],
    'TRANSFORMS': ['BlockMaskGenerator', 'TubeMaskGenerator', 'TokenizerView', 'PackBEVTInputs',
                   'LoadImageAsClip', 'CheckVideoLength', 'SingleFrame', 'ShuffleFrames'],
    'DATA_SAMPLERS': ['DualDatasetSampler'],
    'DATASETS': ['ImageListDataset', 'RobustVideoDataset'],
    'HOOKS': ['NonFiniteLossHook', 'ProbeHook', 'RNGStateHook'],
    'OPTIM_WRAPPER_CONSTRUCTORS': ['SwinLayerDecayOptimWrapperConstructor'],
    'PARAM_SCHEDULERS': ['MMCVLinearWarmupLR'],
}


@pytest.mark.parametrize('registry,names', sorted(PUBLIC.items()))
def test_types_are_registered_in_mmaction_scope(registry, names):
    import mmaction.registry as regs
    reg = getattr(regs, registry)
    assert reg.scope == 'mmaction'
    for name in names:
        assert reg.get(name) is not None, f'{name} is not in mmaction {registry}'


def test_custom_imports_in_a_fresh_interpreter():
    """What a config's custom_imports does under tools/train.py or mim."""
    code = ('from mmengine.config import Config\n'
            'cfg = Config(dict(custom_imports=dict(imports=["bevt_mm"], '
            'allow_failed_imports=False)))\n'
            'from mmengine.utils import import_modules_from_strings\n'
            'import_modules_from_strings(**cfg.custom_imports)\n'
            'from mmaction.registry import MODELS\n'
            'assert MODELS.get("BEVT") is not None\n'
            'import mmaction.models\n'
            'print("ok")\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith('ok')
