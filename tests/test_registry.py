"""`import bevt_mm` registers every public BEVT type into MMAction2's registries (scope mmaction)."""
import pytest

PUBLIC = {
    'MODELS': ['BEVTSwinTransformer3D', 'BEVTTimeSformer', 'BEVT', 'BEVTHead', 'BEVTPlainHead',
               'BEVTDataPreprocessor', 'DALLETokenizer', 'VQKDTokenizer', 'VQVAETokenizer'],
    'TRANSFORMS': ['BlockMaskGenerator', 'TubeMaskGenerator', 'TokenizerView', 'PackBEVTInputs',
                   'LoadImageAsClip', 'CheckVideoLength', 'SingleFrame', 'ShuffleFrames'],
    'DATA_SAMPLERS': ['DualDatasetSampler'],
    'DATASETS': ['ImageListDataset', 'RobustVideoDataset'],
    'HOOKS': ['NonFiniteLossHook', 'ProbeHook', 'ResumeHook', 'RNGStateHook'],
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


@pytest.mark.slow
def test_custom_imports_in_a_fresh_interpreter(fresh_imports):
    """What a config's custom_imports does under tools/train.py or mim (``FRESH_IMPORTS`` in
    tests/conftest.py: custom_imports of bevt_mm, then BEVT in MODELS, then mmaction.models)."""
    assert fresh_imports.returncode == 0, fresh_imports.stderr[-2000:]
    assert fresh_imports.stdout.strip().endswith('ok')
