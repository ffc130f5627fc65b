"""Low-level helpers shared by every layer (models, datasets, engine, compat).

Safe checkpoint loading (:mod:`.safe_load`), reading and converting
checkpoints (:mod:`.checkpoint`: export, image -> joint, the authors' layout,
TimeSformer, the backbone match check) and the stack's known warnings
(:mod:`.stack_warnings`). They depend on torch, mmengine and MMAction2 only,
never on a bevt_mm layer above; import them from their module.
"""
