"""BEVT algorithm + BEVTDataPreprocessor end to end (tiny model, VQVAETokenizer)."""
import pytest
import torch
from bevt_builders import VOCAB, make_batch, tiny_bevt_cfg, tiny_tokenizer_cfg
from mmaction.registry import MODELS
from mmengine.optim import OptimWrapper


def build_model(**head_kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_bevt_cfg(**head_kwargs))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def model():
    return build_model()


def test_preprocessor_splits_and_normalizes_mixed_batch():
    pre = MODELS.build(dict(type='BEVTDataPreprocessor', mean=(10., 20., 30.),
                            std=(2., 4., 8.)))
    batch = make_batch(['video', 'image', 'video', 'image', 'image'])
    out = pre(batch, training=True)
    image, video = out['inputs']['image'], out['inputs']['video']
    assert image['inputs'].shape == (3, 3, 64, 64) and image['inputs'].dtype == torch.float32
    assert video['inputs'].shape == (2, 3, 4, 64, 64)
    assert image['mask'].shape == (3, 4, 4) and video['mask'].shape == (2, 2, 4, 4)
    assert video['target_mask'].shape == (2, 4, 4, 4)
    assert video['tokenizer_inputs'].shape == (2, 3, 4, 32, 32)
    assert image['tokenizer_inputs'].dtype == torch.uint8
    # batch order inside each stream, normalization per channel
    expected = (batch['inputs'][1].float() - torch.tensor([10., 20., 30.]).view(3, 1, 1)) \
        / torch.tensor([2., 4., 8.]).view(3, 1, 1)
    torch.testing.assert_close(image['inputs'][0], expected)
    assert image['data_samples'][0] is out['data_samples'][1]
    assert torch.equal(video['mask'][1], batch['data_samples'][2].mask)
    # a single-modality batch leaves the other stream empty
    assert pre(make_batch(['image']))['inputs']['video'] is None


def test_joint_batch_losses_and_frozen_tokenizer(model):
    model.train()
    assert not model.target_generator.training
    data = model.data_preprocessor(make_batch(['video', 'image', 'image']), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_image', 'acc_image', 'loss_video', 'acc_video'}
    assert all(torch.isfinite(v) for v in losses.values())
    (losses['loss_image'] + losses['loss_video']).backward()
    assert all(p.grad is None for p in model.target_generator.parameters())
    assert model.backbone.patch_embed_2d.proj.weight.grad is not None
    assert model.backbone.patch_embed.proj.weight.grad is not None
    model.zero_grad()


def test_single_stream_batches(model):
    image_only = model.data_preprocessor(make_batch(['image', 'image']))
    assert set(model(**image_only, mode='loss')) == {'loss_image', 'acc_image'}
    video_only = model.data_preprocessor(make_batch(['video']))
    assert set(model(**video_only, mode='loss')) == {'loss_video', 'acc_video'}


def test_loss_takes_only_the_preprocessor_streams(model):
    """One input format: a plain tensor batch is refused, naming the preprocessor."""
    batch = make_batch(['video', 'video'])
    inputs = torch.stack(batch['inputs']).float() / 255.
    with pytest.raises(TypeError, match='BEVTDataPreprocessor'):
        model.loss(inputs, batch['data_samples'])


def test_data_contract_is_checked_on_the_first_batch_of_each_stream():
    """The stream fields and the mask grid are checked once per stream, not
    every step; a sample without its masks fails naming the missing keys."""
    model = build_model()
    calls = []
    check = model.check_mask_grid
    model.check_mask_grid = lambda name, *args: (calls.append(name), check(name, *args))
    for _ in range(3):
        model(**model.data_preprocessor(make_batch(['video', 'image'])), mode='loss')
    model(**model.data_preprocessor(make_batch(['image'])), mode='loss')
    assert sorted(calls) == ['image', 'video']

    fresh = build_model()
    batch = make_batch(['image', 'video'])
    del batch['data_samples'][0].mask
    with pytest.raises(KeyError, match=r"image samples lack \['mask'\].*BlockMaskGenerator"):
        fresh(**fresh.data_preprocessor(batch), mode='loss')


def test_targets_come_from_one_tokenizer_call(model):
    calls = []
    handle = model.target_generator.register_forward_hook(
        lambda mod, args, out: calls.append(args[0].shape))
    try:
        model(**model.data_preprocessor(make_batch(['video', 'image'])), mode='loss')
    finally:
        handle.remove()
    assert calls == [torch.Size([1 + 4, 3, 32, 32])]  # 1 image + 4 video frames
    data = model.data_preprocessor(make_batch(['video', 'image']))
    ids = model.tokenize(data['inputs']['image']['tokenizer_inputs'],
                         data['inputs']['video']['tokenizer_inputs'])
    frames = data['inputs']['video']['tokenizer_inputs'][0].transpose(0, 1)
    torch.testing.assert_close(ids['video'][0], model.target_generator(frames))


def test_logits_at_every_position_in_tensor_mode(model):
    data = model.data_preprocessor(make_batch(['video', 'image']))
    with torch.no_grad():
        logits = model(**data, mode='tensor')
    assert logits['image'].shape == (1, 4, 4, VOCAB)
    assert logits['video'].shape == (1, 4, 4, 4, VOCAB)


def test_head_num_classes_follows_the_tokenizer_vocabulary():
    cfg = tiny_bevt_cfg()
    cfg['target_generator'] = tiny_tokenizer_cfg(vocab_size=VOCAB * 2)
    assert MODELS.build(cfg).head.num_classes == VOCAB * 2


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    model = build_model()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=2e-3))
    batch = make_batch(['video', 'image', 'image'], ratio=0.6)
    history = []
    for _ in range(8):
        log = model.train_step(batch, optim)
        history.append(log['loss'].item())
    assert history[-1] < history[0] - 0.1, history
