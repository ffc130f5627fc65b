"""model-index.yml / configs/bevt/metafile.yml: valid for mim, configs exist, paper numbers."""
import os.path as osp

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _models():
    index = yaml.safe_load(open(osp.join(ROOT, 'model-index.yml')))
    models = []
    for path in index['Import']:
        models += yaml.safe_load(open(osp.join(ROOT, path)))['Models']
    return models


def test_every_model_config_exists_and_every_recipe_is_listed():
    models = _models()
    configs = {m['Config'] for m in models}
    assert all(osp.isfile(osp.join(ROOT, c)) for c in configs)
    for name in ('joint_swin_b', 'image_stream_swin_b', 'video_only_swin_b',
                 'finetune_swin_b_k400', 'finetune_swin_b_ssv2', 'finetune_swin_b_diving48',
                 'joint_timesformer_b', 'finetune_timesformer_b_k400'):
        assert f'configs/bevt/{name}.py' in configs


def test_paper_results():
    top1 = {m['Config']: m['Results'][0]['Metrics'] for m in _models() if m.get('Results')}
    assert top1['configs/bevt/finetune_swin_b_k400.py']['Top 1 Accuracy'] == 80.6
    assert top1['configs/bevt/finetune_swin_b_ssv2.py']['Top 1 Accuracy'] == 70.6
    assert top1['configs/bevt/finetune_swin_b_ssv2.py']['Top 1 Accuracy (PeCo tokenizer)'] == 71.4
    assert top1['configs/bevt/finetune_swin_b_diving48.py']['Top 1 Accuracy'] == 87.2


def test_mim_reads_the_package_model_index(monkeypatch):
    """mim's own loader reads bevt_mm/.mim (what a regular install ships)."""
    search = pytest.importorskip('mim.commands.search')
    package_dir = osp.join(ROOT, 'bevt_mm')
    assert osp.isfile(osp.join(package_dir, '.mim', 'model-index.yml'))
    # mim looks for <site-packages>/bevt_mm; an editable install keeps the package here
    monkeypatch.setattr(search, 'get_installed_path', lambda package: package_dir)
    table = search.get_model_info('bevt_mm', local=True)
    assert len(table) == len(_models())
    assert 'bevt-joint_swin-b_in1k-k400' in table.index
    assert table.loc['bevt-pre_swin-b_u32_sthv2', 'sthv2/top_1_accuracy'] == 70.6
