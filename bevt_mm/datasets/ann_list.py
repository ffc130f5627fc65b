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

:func:`windows_separators_to_posix` reads the ``\\`` separators of a list
written on Windows (``train\\abseiling\\v0.mp4``) as ``/`` where only that
form exists.
"""
import codecs
import logging
import os
import os.path as osp
from typing import List, Optional, Tuple, Union

from mmengine import fileio
from mmengine.logging import print_log

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


def _is_int(field: str) -> bool:
    try:
        int(field)
    except ValueError:
        return False
    return True


def _ends_like_a_file_name(path: str, delimiter: Optional[str]) -> bool:
    """Whether the last field of ``path`` can end a file name (``(31).mp4``, ``a/b``).

    A file name with spaces ends in a suffix or a folder part; a bare word or
    a number there (``v0.mp4 cat``, ``v0.mp4 1 2``, ``v0.mp4 1.5``) is a
    malformed label column.
    """
    last = path.rsplit(delimiter, 1)[-1]
    try:
        float(last)
        return False
    except ValueError:
        return any(c in last for c in './\\')


def read_annotation_list(ann_file: str, delimiter: str = ' ', with_label: bool = True,
                         multi_label: bool = False, num_classes: Optional[int] = None,
                         backend_args: Optional[dict] = None) -> List[Tuple[str, Label]]:
    """Read ``path [label]`` lines into ``(path, label)`` (label -1 when absent).

    A path may contain the delimiter (``drinking (31).mp4 0``): a labelled
    line splits at its last delimiter (``multi_label``: before its trailing
    integer fields); a line whose last field is no integer but ends like a
    file name (``drinking (31).mp4``) is a path without a label.

    Args:
        ann_file (str): the list.
        delimiter (str): separator of path and label; ``' '`` (default) means
            any run of whitespace (spaces, tabs).
        with_label (bool): read labels; False takes each whole line as a path.
        multi_label (bool): ``path label label ...`` (MMAction2's
            ``multi_class`` lists); labels are returned as lists.
        num_classes (int, optional): when given, every label must be in
            ``0..num_classes - 1`` (lines without a label are not checked).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[tuple[str, int | list[int]]]: paths as written and integer labels.

    Raises:
        AnnotationFormatError: a malformed line: a label that is no integer,
            an extra integer column (a rawframe or multi-label list read as a
            single-label one), a label on some lines but not on others.
        LabelRangeError: a label outside ``0..num_classes - 1``.
    """
    sep = None if delimiter == ' ' else delimiter
    expected = (f'one sample per line: "<path>{delimiter}<integer label>", or "<path>" alone '
                'on every line of an unlabeled list (paths relative to data_prefix; a path '
                'may contain spaces, the label is the last field)')
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

        def fail(problem: str) -> AnnotationFormatError:
            return AnnotationFormatError(
                f'{ann_file}, line {lineno}: {line!r}: {problem}. Expected {expected}. '
                'Fix this line or regenerate the list.')

        path, labels = line, []
        while True:  # trailing integer fields are labels (one, or any number if multi_label)
            parts = path.rsplit(sep, 1)
            if len(parts) < 2 or not _is_int(parts[1]) or (labels and not multi_label):
                break
            path = parts[0].strip()
            labels.insert(0, int(parts[1]))
        if len(path.split(sep, 1)) > 1 and not _ends_like_a_file_name(path, sep):
            last = path.rsplit(sep, 1)[-1]
            if _is_int(last):
                raise fail(f'{len(line.split(sep))} fields')
            raise fail(f'label {last!r} is not an integer')
        labeled_at.setdefault(bool(labels), lineno)
        if len(labeled_at) == 2:
            first = labeled_at[not labels]
            raise fail(('no label' if not labels else 'a label') + f', unlike line {first}')
        checked.extend((lineno, line, label) for label in labels)
        rows.append((path, labels if multi_label else (labels[0] if labels else -1)))
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


def windows_separators_to_posix(paths: List[str], root: Optional[str], ann_file: str,
                                max_probes: int = 100) -> List[str]:
    """Paths of a list written on Windows (``train\\a\\v0.mp4``) with ``/`` separators.

    On POSIX ``\\`` is an ordinary file-name character, so such a path names
    a file that does not exist. The first paths holding a ``\\`` (at most
    ``max_probes``) are looked up under ``root``: when one exists only in its
    ``/`` form, every ``\\`` of the list is read as ``/`` and one warning
    names the list; when one exists as written, the paths are kept. On
    Windows the paths are returned unchanged.

    Args:
        paths (list[str]): paths as written in the list.
        root (str, optional): the folder they are relative to (data_prefix).
        ann_file (str): the list (for the warning).
        max_probes (int): paths looked up at most.

    Returns:
        list[str]: the paths, converted or not.
    """
    if os.sep == '\\':
        return paths
    windows = [p for p in paths if '\\' in p]

    def exists(path: str) -> bool:
        try:
            return fileio.exists(osp.join(root, path) if root else path)
        except Exception:  # a storage backend that cannot be reached from here
            return False

    for path in windows[:max_probes]:
        if exists(path):
            return paths
        posix = path.replace('\\', '/')
        if exists(posix):
            print_log(f'{ann_file}: {len(windows)} paths use Windows separators (e.g. {path!r} '
                      f'does not exist, {posix!r} does): reading every "\\" of this list as '
                      '"/" (write the list with "/" to silence this warning)',
                      logger='current', level=logging.WARNING)
            return [p.replace('\\', '/') for p in paths]
    return paths
