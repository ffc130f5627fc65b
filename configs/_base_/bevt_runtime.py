# Runtime shared by every bevt_mm pretraining config: MMAction2's default runtime plus
# atomic checkpoint writes (a killed job never leaves a half-written .pth), a stop at the
# first non-finite loss (before it is saved), RNG states saved in checkpoints and restored
# on --resume (the run continues exactly as the interrupted one), gradients of an unfinished
# accumulation saved with them (exact resume with accumulative_counts > 1), a resume that finds
# the work dir's checkpoint after a move and keeps epoch schedules in epochs, and our types.
#
# The reliability hooks are named entries of default_hooks (mmengine's Runner builds every key
# of it), not custom_hooks: a config or command that replaces custom_hooks (e.g. custom_hooks=[]
# to drop the toy k-NN probe) keeps them. Replace one with another hook config to change it.
_base_ = 'mmaction::_base_/default_runtime.py'

custom_imports = dict(imports=['bevt_mm'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, ignore_last=False),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best=None,
                    save_last=True, backend_args=dict(backend='atomic_local')),
    non_finite_loss=dict(type='NonFiniteLossHook'),
    rng_state=dict(type='RNGStateHook'),
    accumulated_grads=dict(type='AccumulatedGradsHook'),
    resume=dict(type='ResumeHook'))

custom_hooks = []

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
