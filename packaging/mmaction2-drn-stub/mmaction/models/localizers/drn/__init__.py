"""Stand-in for ``mmaction.models.localizers.drn`` (installed by mmaction2-drn-stub).

The mmaction2 1.2.0 wheel on PyPI lacks this folder, so ``import mmaction.models``
fails (open-mmlab/mmaction2#2714) in every tool (``mim test mmaction2``, ``mim
train mmaction2``, bevt_mm). With this package installed it imports; only building
DRN itself raises.
"""
