"""What the scripts of ``tools/analysis`` and ``demo/`` compute, importable after install.

Each module is imported on its own (``from bevt_mm.analysis.flops import step_flops``);
``import bevt_mm`` loads none of them. The scripts add only their command lines.
"""
