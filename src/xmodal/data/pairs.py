"""Training pairs and triples for a contrastive trainer, from folders, pair files or sources.

A contrastive trainer needs rows of (anchor, positive[, hard negatives…]). Real collections come
as a folder of media with caption side-cars, as JSONL / CSV / Parquet pair files, or as one of the
installed ``sources``; :func:`load_pairs` reads all of them into one :class:`PairDataset`. A bad
row never aborts a load of thousands of good ones: it is kept in ``problems`` with its file:line
and the reason, so a user can fix the data; only a load that keeps nothing is an error.

Example:
    >>> PairDataset(anchors=("a cat",), positives=("un chat",), negatives=None,
    ...             anchor_modality="text", name="demo").positives
    ('un chat',)
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from xmodal.modalities import MODALITIES, Modality

from .problems import ItemProblem, describe

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".svg")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
PAIR_FILE_EXTENSIONS = (".jsonl", ".csv", ".parquet")
_KIND = {**dict.fromkeys(IMAGE_EXTENSIONS, "image"), **dict.fromkeys(AUDIO_EXTENSIONS, "audio")}
_RATINGS = "it holds human similarity ratings, not matching pairs"
_NO_PAIRS = {"fashion-mnist": "it holds labelled images (class names, no captions); use it for "
             "zero-shot classification", "wordsim353": _RATINGS, "simlex999": _RATINGS,
             "lee-similarity": _RATINGS}


@dataclass(frozen=True)
class PairDataset:
    """Rows of (anchor, positive text[, M hard-negative texts]) for contrastive training.

    Example:
        >>> data = PairDataset(anchors=("q1", "q2"), positives=("d1", "d2"),
        ...                    negatives=(("x", "y"), ("z", "w")), anchor_modality="text",
        ...                    name="demo")
        >>> len(data), data.num_negatives, data.subset([1]).negatives
        (2, 2, (('z', 'w'),))
    """

    anchors: tuple[object, ...]  # image/audio paths (str) or texts
    positives: tuple[str, ...]  # captions / documents
    negatives: tuple[tuple[str, ...], ...] | None  # (n, M) explicit hard negatives, or None
    anchor_modality: Modality
    name: str
    positive_modality: Literal["text"] = "text"
    problems: tuple[ItemProblem, ...] = ()  # rows skipped while loading

    def __post_init__(self) -> None:
        for field in ("anchors", "positives", "problems"):
            object.__setattr__(self, field, tuple(getattr(self, field)))
        if self.anchor_modality not in MODALITIES or self.positive_modality != "text":
            raise ValueError(f"anchor_modality must be text, image or audio and positive_modality "
                             f"text, got {self.anchor_modality!r}, {self.positive_modality!r}")
        if len(self.anchors) != len(self.positives):
            raise ValueError(f"{len(self.anchors)} anchors but {len(self.positives)} positives")
        if self.negatives is not None:
            rows = tuple(tuple(row) for row in self.negatives)
            object.__setattr__(self, "negatives", rows)
            if len(rows) != len(self.anchors):
                raise ValueError(f"{len(rows)} negative rows but {len(self.anchors)} anchors")
            lengths = sorted({len(row) for row in rows})
            if lengths and (len(lengths) > 1 or lengths[0] < 1):
                raise ValueError(f"every row needs the same number (>= 1) of negatives, "
                                 f"got lengths {lengths}")

    def __len__(self) -> int:
        return len(self.anchors)

    @property
    def num_negatives(self) -> int:
        """M, the hard negatives per row (0 for plain pairs)."""
        return len(self.negatives[0]) if self.negatives else 0

    def subset(self, indices: Iterable[int]) -> PairDataset:
        """The rows at ``indices`` (in that order), same name, modality and load problems."""
        keep = [int(i) for i in indices]
        negatives = None if self.negatives is None else tuple(self.negatives[i] for i in keep)
        return PairDataset(anchors=tuple(self.anchors[i] for i in keep),
                           positives=tuple(self.positives[i] for i in keep),
                           negatives=negatives, anchor_modality=self.anchor_modality,
                           name=self.name, positive_modality=self.positive_modality,
                           problems=self.problems)


@dataclass
class _Row:
    index: int  # position in the input (line, data row, media file)
    where: str  # "file:line", "file[row 3]" or a path
    anchor: Any
    positive: Any
    negatives: Any = None  # list of str, or None when absent


def load_pairs(
    source: str | Path,
    *,
    anchor: str = "anchor",
    positive: str = "positive",
    negatives: str = "negatives",
    modality: Modality | None = None,
    limit: int | None = None,
    check_files: bool = True,
) -> PairDataset:
    """Load training pairs (or triples with hard negatives).

    ``source`` is one of:

    * a folder: each media file (images: .png .jpg .jpeg .webp .gif .bmp .svg; audio: .wav
      .flac .ogg .mp3; not both) with a side-car ``STEM.txt`` (one pair per non-empty line) or
      ``STEM.json`` (``{"caption": str}`` or ``{"captions": [str, ...]}``), searched recursively
      in sorted path order;
    * a ``.jsonl`` / ``.csv`` (header row) / ``.parquet`` file with columns ``anchor``,
      ``positive`` and optionally ``negatives``: a list of strings (JSON list or Parquet
      list<string>; in CSV a cell starting with ``[`` is a JSON list, anything else is split on
      ``|``). An empty negatives value means none. Relative media paths resolve against the
      file's folder;
    * ``"source:NAME"``: an installed dataset from :mod:`xmodal.data.sources` (image → caption,
      audio → caption, question → answer).

    Args:
        source: folder, pair file, or ``"source:NAME"``.
        anchor: anchor field / column name.
        positive: positive field / column name.
        negatives: hard-negatives field / column name.
        modality: the anchors' modality; by default the folder's media kind, or for pair files
            the kind most anchors' extensions name (text when most have no media extension).
        limit: keep the first ``limit`` good rows.
        check_files: report rows whose media file does not exist as problems.

    Returns:
        The rows that loaded; every skipped row is in ``problems`` with its location and why.
        When some rows have negatives, all rows need as many as the first such row.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: unknown file type, missing column, mixed media in a folder, a source without
            pairs, or no usable row at all.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> lines = ['{"anchor": "cat", "positive": "chat"}', '{"anchor": "dog"}']
        >>> _ = (folder / "pairs.jsonl").write_text("\\n".join(lines))
        >>> data = load_pairs(folder / "pairs.jsonl")
        >>> data.anchors, data.anchor_modality, data.problems[0].reason
        (('cat',), 'text', "missing field 'positive'")
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    if isinstance(source, str) and source.startswith("source:"):
        return _from_source(source.removeprefix("source:"), limit, check_files)
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"pair source not found: {path}")
    problems: list[ItemProblem] = []
    if path.is_dir():
        found, rows = _folder_rows(path, problems)
        if modality is not None and modality != found:
            raise ValueError(f"{path} holds {found} files, not {modality}")
        modality, base = found, None
    else:
        suffix = path.suffix.lower()
        if suffix not in PAIR_FILE_EXTENSIONS:
            raise ValueError(f"unsupported pair file {path.name}: use a folder or one of "
                             f"{', '.join(PAIR_FILE_EXTENSIONS)}")
        read = {".jsonl": _jsonl_rows, ".csv": _csv_rows, ".parquet": _parquet_rows}[suffix]
        rows = list(read(path, (anchor, positive, negatives), problems))
        modality, base = modality or _infer_modality(rows), path.parent
    return _finish(rows, problems, modality, base, path.name, limit, check_files)


def _finish(rows: list[_Row], problems: list[ItemProblem], modality: Modality,
            base: Path | None, name: str, limit: int | None, check_files: bool,
            check_kind: bool = True) -> PairDataset:
    """Check every row, keep the good ones (up to ``limit``) and report the rest."""
    good: list[_Row] = []
    width = None  # M, set by the first row with negatives
    wants_negatives = any(row.negatives not in (None, []) for row in rows)
    for row in rows:
        if limit is not None and len(good) == limit:
            break
        try:
            row.anchor = _check_anchor(row.anchor, modality, base, check_files, check_kind)
            row.positive = _check_text(row.positive, "positive")
            if wants_negatives:
                row.negatives = _check_negatives(row.negatives, width)
                width = len(row.negatives)
        except ValueError as exc:
            problems.append(ItemProblem(index=row.index, item=row.where, reason=str(exc)))
            continue
        good.append(row)
    if not good:
        shown = "; ".join(f"{p.item}: {p.reason}" for p in problems[:5])
        raise ValueError(f"no usable pairs in {name} ({len(problems)} problems): {shown}")
    return PairDataset(
        anchors=tuple(row.anchor for row in good),
        positives=tuple(row.positive for row in good),
        negatives=tuple(tuple(row.negatives) for row in good) if wants_negatives else None,
        anchor_modality=modality, name=name,
        problems=tuple(sorted(problems, key=lambda p: p.index)))


def _check_text(value: Any, field: str) -> str:
    if value is None:
        raise ValueError(f"{field} is missing (null)")
    if not isinstance(value, str):
        raise ValueError(f"{field} is {type(value).__name__}, not text")
    if "\x00" in value:
        raise ValueError(f"{field} contains a NUL character: {describe(value)}")
    if not value.strip():
        raise ValueError(f"{field} is empty")
    return value.strip()


def _check_anchor(value: Any, modality: Modality, base: Path | None, check_files: bool,
                  check_kind: bool) -> str:
    text = _check_text(value, "anchor")
    if modality == "text":
        return text
    kinds = IMAGE_EXTENSIONS if modality == "image" else AUDIO_EXTENSIONS
    path = Path(text).expanduser()
    if check_kind and path.suffix.lower() not in kinds:
        raise ValueError(f"anchor {describe(text)} is not an {modality} file ({' '.join(kinds)})")
    if base is not None and not path.is_absolute():
        path = base / path
    if check_files and not path.is_file():
        raise ValueError(f"{modality} file not found: {path}")
    return str(path)


def _check_negatives(value: Any, width: int | None) -> list[str]:
    if value is None or value == []:
        raise ValueError("no negatives, while other rows have them")
    if not isinstance(value, list):
        raise ValueError(f"negatives must be a list of strings, got {type(value).__name__}")
    if width is not None and len(value) != width:
        raise ValueError(f"{len(value)} negatives, expected {width} like the first row")
    return [_check_text(v, f"negatives[{i}]") for i, v in enumerate(value)]


def _infer_modality(rows: list[_Row]) -> Modality:
    """The media kind most anchors' extensions name; text when most name none (or on a tie)."""
    votes = Counter(_KIND.get(Path(row.anchor).suffix.lower(), "text")
                    if isinstance(row.anchor, str) else "text" for row in rows)
    return max(MODALITIES, key=lambda kind: votes[kind])


def _folder_rows(folder: Path, problems: list[ItemProblem]) -> tuple[Modality, list[_Row]]:
    media = sorted((p for p in folder.rglob("*") if p.is_file() and _KIND.get(p.suffix.lower())),
                   key=lambda p: p.relative_to(folder).as_posix())
    kinds = {_KIND.get(p.suffix.lower()) for p in media}
    if not media:
        raise ValueError(f"no image or audio files in {folder} (images: "
                         f"{' '.join(IMAGE_EXTENSIONS)}; audio: {' '.join(AUDIO_EXTENSIONS)})")
    if len(kinds) > 1:
        raise ValueError(f"{folder} mixes images and audio; put each modality in its own folder")
    rows: list[_Row] = []
    for index, path in enumerate(media):
        txt, js = path.with_suffix(".txt"), path.with_suffix(".json")
        try:
            if txt.is_file() and js.is_file():
                raise ValueError(f"both {txt.name} and {js.name} exist; keep one side-car")
            if txt.is_file():
                captions = [(f"{txt}:{n}", line) for n, line in
                            enumerate(txt.read_text(encoding="utf-8").splitlines(), 1)
                            if line.strip()]
            elif js.is_file():
                captions = [(f"{js}", c) for c in _json_captions(js)]
            else:
                raise ValueError(f"no caption side-car ({txt.name} or {js.name})")
            if not captions:
                raise ValueError("the caption side-car is empty")
        except (ValueError, OSError) as exc:  # UnicodeDecodeError is a ValueError
            problems.append(ItemProblem(index=index, item=str(path), reason=str(exc)))
            continue
        rows += [_Row(index, where, str(path), caption) for where, caption in captions]
    return kinds.pop(), rows  # type: ignore[return-value]


def _json_captions(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name} is not valid JSON: {exc}") from None
    if isinstance(data, dict) and "caption" in data:
        return [data["caption"]]
    if isinstance(data, dict) and isinstance(data.get("captions"), list):
        return data["captions"]
    raise ValueError(f'{path.name} needs {{"caption": str}} or {{"captions": [str, ...]}}')


def _jsonl_rows(path: Path, fields: tuple[str, str, str],
                problems: list[ItemProblem]) -> Iterator[_Row]:
    anchor, positive, negatives = fields
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8").strip()
                if not line:
                    continue
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
                for field in (anchor, positive):
                    if field not in obj:
                        raise ValueError(f"missing field {field!r}")
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError included
                problems.append(ItemProblem(index=number - 1, item=where, reason=str(exc)))
                continue
            yield _Row(number - 1, where, obj[anchor], obj[positive], obj.get(negatives))


def _csv_rows(path: Path, fields: tuple[str, str, str],
              problems: list[ItemProblem]) -> Iterator[_Row]:
    anchor, positive, negatives = fields
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in (anchor, positive) if c not in header]
        if missing:
            raise ValueError(f"{path.name}: no column {', '.join(map(repr, missing))} in the "
                             f"header {header}")
        start = reader.line_num + 1
        for index, record in enumerate(reader):
            where, start = f"{path}:{start}", reader.line_num + 1
            try:
                if None in record or None in record.values():  # too many / too few cells
                    raise ValueError(f"expected {len(header)} cells as in the header")
                cell = _csv_negatives(record.get(negatives))
            except ValueError as exc:
                problems.append(ItemProblem(index=index, item=where, reason=str(exc)))
                continue
            yield _Row(index, where, record[anchor], record[positive], cell)


def _csv_negatives(cell: str | None) -> Any:
    """A JSON list when the cell starts with ``[``, else ``|``-separated; empty → None."""
    if cell is None or not cell.strip():
        return None
    if cell.lstrip().startswith("["):
        try:
            return json.loads(cell)
        except json.JSONDecodeError as exc:
            raise ValueError(f"negatives cell is not a valid JSON list: {exc}") from None
    return [part.strip() for part in cell.split("|")]


def _parquet_rows(path: Path, fields: tuple[str, str, str],
                  problems: list[ItemProblem]) -> Iterator[_Row]:
    from xmodal._optional import require

    pq = require("pyarrow.parquet", "train")
    names = pq.read_schema(path).names
    missing = [c for c in fields[:2] if c not in names]
    if missing:
        raise ValueError(f"{path.name}: no column {', '.join(map(repr, missing))} in {names}")
    columns = [c for c in fields if c in names]
    table = pq.read_table(path, columns=columns).to_pydict()
    anchors, positives = table[fields[0]], table[fields[1]]
    negs: Sequence[Any] = table.get(fields[2], [None] * len(anchors))
    for index, row in enumerate(zip(anchors, positives, negs, strict=True)):
        yield _Row(index, f"{path}[row {index}]", *row)


def _from_source(name: str, limit: int | None, check_files: bool) -> PairDataset:
    from xmodal.data.sources import AudioClip, ImageText, TextPair, load_source

    if name in _NO_PAIRS:
        raise ValueError(f"source {name!r} has no training pairs: {_NO_PAIRS[name]}")
    loaded = load_source(name, limit=limit)
    rows: list[_Row] = []
    kinds: set[Modality] = set()
    for index, item in enumerate(loaded.items):
        if isinstance(item, ImageText | AudioClip):
            kinds.add("image" if isinstance(item, ImageText) else "audio")
            rows.append(_Row(index, str(item.path), str(item.path), item.caption))
        elif isinstance(item, TextPair):
            kinds.add("text")
            rows.append(_Row(index, f"{name}:{item.id}", item.query, item.document))
        else:
            raise ValueError(f"source {name!r} has no training pairs: its items are "
                             f"{type(item).__name__}, not captioned media or question/answer")
    if len(kinds) != 1:
        raise ValueError(f"source {name!r} gives {sorted(kinds) or 'no'} pairs, not one kind")
    # a source's own files are trusted to be its modality (freedesktop sounds are .oga)
    return _finish(rows, [], kinds.pop(), None, name, limit, check_files, check_kind=False)
