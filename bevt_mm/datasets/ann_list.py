"""Strict reading of ``path [label ...]`` annotation lists.

:func:`read_list_lines` reads any text list the way it was meant, whatever
editor saved it: UTF-8 with or without a byte-order mark (Windows Notepad
writes one), UTF-16 with a BOM (Notepad's "Unicode"), ``\\n``, ``\\r\\n`` or
``\\r`` line ends, and a BOM at the start of a later line (Windows lists
joined with ``cat``) is dropped too; without this the first path of a
Windows list reads ``'\\ufeffv0.mp4'`` and that file is "missing".

:func:`read_annotation_list` parses the lines. A malformed line (a
non-integer label, too many fields, a label on some lines but not on others)
raises :class:`AnnotationFormatError` naming the list, the line number, the
line and the expected format, instead of a bare ``ValueError: invalid literal
for int()`` or a silently wrong label. With ``num_classes`` every label must
be in ``0..num_classes - 1``: a 1-based list (Diving48's 1..48 with 48
classes) fails when the dataset is built, not at the first batch that holds
label 48 (a device-side assert on GPU, hours into a run).
"""
import codecs
from typing import List, Optional, Tuple, Union

from mmengine import fileio

BOM = '\ufeff'

Label = Union[int, List[int]]


class AnnotationFormatError(ValueError):
    """An annotation list line does not have the expected format."""


class LabelRangeError(AnnotationFormatError):
    """A label of an annotation list is outside ``0..num_classes - 1``."""


def read_list_lines(path: str, backend_args: Optional[dict] = None) -> List[str]:
    """The lines of a text list, without line ends and byte-order marks.

    Args:
        path (str): the list (any mmengine file backend).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[str]: every line in order (blank lines kept, so index + 1 is the
        line number).

    Raises:
        AnnotationFormatError: the file is neither UTF-8 nor UTF-16 with a BOM.
    """
    data = fileio.get(path, backend_args=backend_args)
    encoding = ('utf-16' if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
                else 'utf-8-sig')
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b'\n') + 1
        raise AnnotationFormatError(
            f'{path}, line {line}: bytes {data[err.start:err.end + 8]!r} are not {encoding} '
            '(a list saved in a legacy code page?): save the list as UTF-8') from None
    lines = text.replace('\r\n', '\n').replace('\r', '\n').split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    return [line.lstrip(BOM) for line in lines]


def read_annotation_list(ann_file: str, delimiter: str = ' ', with_label: bool = True,
                         path_may_contain_delimiter: bool = False,
                         multi_label: bool = False, num_classes: Optional[int] = None,
                         backend_args: Optional[dict] = None) -> List[Tuple[str, Label]]:
    """Read ``path [label]`` lines into ``(path, label)`` (label -1 when absent).

    Args:
        ann_file (str): the list.
        delimiter (str): separator of path and label.
        with_label (bool): read labels; False takes each whole line as a path.
        path_may_contain_delimiter (bool): split at the last delimiter only
            (image lists), else every field counts (MMAction2's video lists).
        multi_label (bool): ``path label label ...`` (MMAction2's
            ``multi_class`` lists); labels are returned as lists.
        num_classes (int, optional): when given, every label must be in
            ``0..num_classes - 1`` (lines without a label are not checked).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[tuple[str, int | list[int]]]: paths as written and integer labels.

    Raises:
        AnnotationFormatError: a malformed line.
        LabelRangeError: a label outside ``0..num_classes - 1``.
    """
    expected = (f'one sample per line: "<path>{delimiter}<integer label>", or "<path>" alone '
                'on every line of an unlabeled list (paths relative to data_prefix)')
    if multi_label:
        expected = (f'one sample per line: "<path>{delimiter}<label>{delimiter}<label> ..." '
                    '(integer labels)')
    rows, labeled_at, checked = [], {}, []
    for lineno, raw in enumerate(read_list_lines(ann_file, backend_args), 1):
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

        if len(parts) > 2 and not multi_label:
            raise fail(f'{len(parts)} fields')
        labels = []
        for field in parts[1:]:
            try:
                labels.append(int(field))
            except ValueError:
                raise fail(f'label {field!r} is not an integer') from None
        labeled_at.setdefault(bool(labels), lineno)
        if len(labeled_at) == 2:
            first = labeled_at[not labels]
            raise fail(('no label' if not labels else 'a label') + f', unlike line {first}')
        checked.extend((lineno, line, label) for label in labels)
        rows.append((parts[0], labels if multi_label else (labels[0] if labels else -1)))
    if num_classes is not None:
        check_label_range(checked, ann_file, num_classes)
    return rows


def check_label_range(labels: List[Tuple[int, str, int]], ann_file: str,
                      num_classes: int) -> None:
    """Raise :class:`LabelRangeError` at the first label outside ``0..num_classes - 1``.

    Args:
        labels (list[tuple[int, str, int]]): ``(line number, line, label)``.
        ann_file (str): the list (for the message).
        num_classes (int): classes of the model's head.
    """
    bad = [row for row in labels if not 0 <= row[2] < num_classes]
    if not bad:
        return
    lineno, line, label = bad[0]
    values = [row[2] for row in labels]
    low, high = min(values), max(values)
    if low == 1 and high == num_classes:
        hint = (f'this list looks 1-based (labels 1..{num_classes}): subtract 1 from every '
                'label')
    elif high >= num_classes:
        hint = (f'the list has labels up to {high}: set num_classes={high + 1} '
                '(model.cls_head.num_classes) if it has that many classes, or fix the list')
    else:
        hint = 'fix the list'
    raise LabelRangeError(
        f'{ann_file}, line {lineno}: {line!r}: label {label} is outside 0..{num_classes - 1} '
        f'(num_classes={num_classes}, from model.cls_head.num_classes); {len(bad)} of '
        f'{len(values)} labels are outside. Labels must be 0..{num_classes - 1}; {hint}.')
