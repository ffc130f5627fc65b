# BEVT with a Video Swin-B encoder (embed 128, depths 2-2-18-2, heads 4-8-16-32, window 8x7x7,
# patch 2x4x4, drop path 0.3, qkv bias), the two light decoders and the shared classifier over
# the tokenizer's 8192 codes. The tokenizer comes from a configs/_base_/tokenizers/*.py file.
model = dict(
    type='BEVT',
    backbone=dict(
        type='BEVTSwinTransformer3D',
        arch='base',
        pretrained=None,
        pretrained2d=False,
        patch_size=(2, 4, 4),
        window_size=(8, 7, 7),
        qkv_bias=True,
        drop_path_rate=0.3,
        patch_norm=True,
        final_norm=False,  # stage features enter the decoders un-normalized (authors' code)
        fused_attention=True,  # scaled_dot_product_attention; False: explicit softmax(QK^T)
        with_cp=False),  # activation checkpointing: less memory, more time
    head=dict(
        type='BEVTHead',
        in_channels=1024,  # stage-4 channels = 8 x embed_dims
        num_classes=8192,  # the tokenizer's codebook
        temporal_scale=2,  # temporal patch size, restored by the temporal deconv
        loss=dict(type='CrossEntropyLoss'),  # at the masked positions only
        loss_weights=dict(image=1.0, video=1.0),
        share_norm=True),  # one decoder norm for both streams, as the authors' code
    data_preprocessor=dict(
        type='BEVTDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]))
