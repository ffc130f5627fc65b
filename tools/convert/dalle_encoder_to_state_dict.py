"""Convert OpenAI's pickled DALL-E encoder (``encoder.pkl``) to a state dict.

``encoder.pkl`` is a pickled ``dall_e.Encoder`` module: unpickling it needs the
``dall-e`` and ``attrs`` packages. This tool loads it once, with
``weights_only=True`` and only the dall_e classes allowed beyond weights (a
file needing anything else is refused unless ``BEVT_TRUST_CHECKPOINTS=1``), and
writes a plain tensor state dict (keys ``blocks.*``) that
``DALLETokenizer(checkpoint=...)`` loads with ``torch.load(weights_only=True)``
and without ``dall-e`` installed. It then checks that both give the same
token ids on random images.

Usage::

    python tools/convert/dalle_encoder_to_state_dict.py encoder.pkl dalle_encoder.pth
"""
import argparse
import os.path as osp
import sys

import torch


def convert(src: str, dst: str, check: bool = True) -> dict:
    """Write the state dict of the pickled encoder ``src`` to ``dst``.

    Returns:
        dict: the state dict written.
    """
    if not osp.isfile(src):
        sys.exit(f'error: {src} not found (OpenAI\'s encoder.pkl: '
                 'https://cdn.openai.com/dall-e/encoder.pkl)')
    from bevt_mm.utils.safe_load import UntrustedCheckpointError, load_checkpoint_file
    from bevt_mm.models.tokenizers.dalle import dalle_encoder_globals
    extra = dalle_encoder_globals()
    try:
        obj = load_checkpoint_file(src, extra_globals=extra)
    except UntrustedCheckpointError as err:
        if not extra and 'dall_e.' in str(err):
            sys.exit(f'error: unpickling {src} needs the dall_e package: pip install dall-e attrs')
        sys.exit(f'error: {err}')
    state = obj.state_dict() if isinstance(obj, torch.nn.Module) else obj
    if not isinstance(state, dict) or not any(k.startswith('blocks.') for k in state):
        sys.exit(f'error: {src} is not a DALL-E encoder (no blocks.* weights)')
    state = {k: v.detach().clone().float() if v.is_floating_point() else v.clone()
             for k, v in state.items()}
    torch.save(state, dst)
    if check and isinstance(obj, torch.nn.Module):
        import bevt_mm  # noqa: F401
        from bevt_mm.models.tokenizers import DALLETokenizer
        n_hid = state['blocks.input.w'].shape[0]
        vocab = state['blocks.output.conv.w'].shape[0]
        groups = len({k.split('.')[1] for k in state if k.startswith('blocks.group_')})
        blocks = len({k.split('.')[2] for k in state if k.startswith('blocks.group_1.block_')})
        kwargs = dict(n_hid=n_hid, vocab_size=vocab, group_count=groups, n_blk_per_group=blocks)
        size = 2**(groups - 1) * 4
        x = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
        a = DALLETokenizer(checkpoint=src, **kwargs)(x)
        b = DALLETokenizer(checkpoint=dst, **kwargs)(x)
        if not torch.equal(a, b):
            sys.exit('error: converted weights give different token ids')
        print(f'checked: identical token ids ({kwargs})')
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help="OpenAI's encoder.pkl (pickled dall_e.Encoder)")
    parser.add_argument('dst', help='output state dict (.pth)')
    parser.add_argument('--no-check', action='store_true', help='skip the token-id check')
    args = parser.parse_args()
    state = convert(args.src, args.dst, check=not args.no_check)
    print(f'wrote {len(state)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
