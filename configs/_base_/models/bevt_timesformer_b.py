# BEVT on TimeSformer-B (divided space-time attention, 8 frames x 224, patch 16).
#
# Backbone: MMAction2's TimeSformer with BEVT's image stream (BEVTTimeSformer): its
# encoder weights are those of a stock `TimeSformer` (export with
# tools/convert/bevt_timesformer_to_mmaction.py). Images use their own 2D patch embedding,
# no time embedding and no temporal attention step; all other weights are shared.
# Head: patch tokens (after the backbone's final norm) are the 14x14 token grid of the
# 112x112 tokenizer view (one token grid per frame: temporal patch 1), so there is no
# decoder; BEVTHead's shared classifier and masked loss.
# Normalization: (x - 127.5) / 127.5 as MMAction2's TimeSformer recipes, so fine-tuning
# sees inputs as in pretraining.
model = dict(
    type='BEVT',
    backbone=dict(
        type='BEVTTimeSformer',
        num_frames=8,
        img_size=224,
        patch_size=16,
        embed_dims=768,
        num_heads=12,
        num_transformer_layers=12,
        in_channels=3,
        dropout_ratio=0.,
        attention_type='divided_space_time',
        norm_cfg=dict(type='LN', eps=1e-6),
        drop_path_rate=0.1,
        mask_token=True,
        pretrained=None),
    head=dict(
        type='BEVTPlainHead',
        in_channels=768,
        num_classes=8192,
        loss_weights=dict(image=1.0, video=1.0)),
    # a user-supplied DALL-E encoder (tools/convert/dalle_encoder_to_state_dict.py)
    target_generator=dict(type='DALLETokenizer', checkpoint='data/tokenizers/dalle_encoder.pth',
                          vocab_size=8192),
    data_preprocessor=dict(
        type='BEVTDataPreprocessor', mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5)))
