"""Strict reading of ``path [label]`` annotation lists.

A malformed line (a non-integer label, too many fields, a label on some lines
but not on others) raises :class:`AnnotationFormatError` naming the list, the
line number, the line and the expected format, instead of a bare
``ValueError: invalid literal for int()`` or a silently wrong label.
"""
from typing import List, Tuple

from mmengine.fileio import list_from_file


class AnnotationFormatError(ValueError):
    """An annotation list line does not have the expected format."""


def read_annotation_list(ann_file: str, delimiter: str = ' ', with_label: bool = True,
                         path_may_contain_delimiter: bool = False) -> List[Tuple[str, int]]:
    """Read ``path [label]`` lines into ``(path, label)`` (label -1 when absent).

    Args:
        ann_file (str): the list.
        delimiter (str): separator of path and label.
        with_label (bool): read labels; False takes each whole line as a path.
        path_may_contain_delimiter (bool): split at the last delimiter only
            (image lists), else every field counts (MMAction2's video lists).

    Returns:
        list[tuple[str, int]]: paths as written and integer labels.
    """
    expected = (f'one sample per line: "<path>{delimiter}<integer label>", or "<path>" alone '
                'on every line of an unlabeled list (paths relative to data_prefix)')
    rows, labeled_at = [], {}
    for lineno, raw in enumerate(list_from_file(ann_file), 1):
        line = raw.strip()
        if not line:
            continue
        if not with_label:
            rows.append((line, -1))
            continue
        parts = (line.rsplit(delimiter, 1) if path_may_contain_delimiter
                 else line.split(delimiter))
        parts = [p for p in parts if p != ''] or [line]

        def fail(problem: str) -> AnnotationFormatError:
            return AnnotationFormatError(
                f'{ann_file}, line {lineno}: {line!r}: {problem}. Expected {expected}. '
                'Fix this line or regenerate the list.')

        if len(parts) > 2:
            raise fail(f'{len(parts)} fields')
        if len(parts) == 2:
            try:
                label = int(parts[1])
            except ValueError:
                raise fail(f'label {parts[1]!r} is not an integer') from None
        else:
            label = -1
        labeled_at.setdefault(len(parts) == 2, lineno)
        if len(labeled_at) == 2:
            first = labeled_at[not len(parts) == 2]
            raise fail(('no label' if len(parts) == 1 else 'a label') +
                       f', unlike line {first}')
        rows.append((parts[0], label))
    return rows
