"""Human similarity ratings from the gensim wheel's test data (downloaded, gensim not installed).

* Lee: 50 news documents, every one of the 1,225 pairs rated 0-1 (mean of human scores).
* WordSim353: 353 word pairs rated 0-10 (relatedness).  * SimLex-999: 999 pairs rated 0-10.
"""

from __future__ import annotations

from pathlib import Path

from ._common import RatedPair, Source, data_dir, require_path

GENSIM_VERSION = "4.4.0"
INSTALL = (
    f"pip download --no-deps gensim=={GENSIM_VERSION} and copy gensim/test/test_data/FILE from the"
    " wheel into $XMODAL_DATA_DIR/gensim-test-data"
)
LICENSE = "as shipped in gensim (LGPL-2.1); research data"
ORIGIN = f"PyPI gensim=={GENSIM_VERSION} wheel, gensim/test/test_data"


def _file(name: str, root: Path | None) -> Path:
    root = root or data_dir() / "gensim-test-data"
    return require_path(root / name, f"gensim test data {name}", INSTALL.replace("FILE", name))


def load_lee_documents(*, background: bool = False, root: Path | None = None) -> tuple[str, ...]:
    """The 50 rated Lee documents (``lee.cor``), or the 300 unrated background ones.

    The background corpus (``lee_background.cor``) is for fitting a model (TF-IDF, LSI) before
    scoring the 50.

    Example:
        >>> docs = load_lee_documents()
        >>> len(docs), docs[0][:22]
        (50, 'The national executive')
    """
    path = _file("lee_background.cor" if background else "lee.cor", root)
    return tuple(line.strip() for line in path.read_text(encoding="latin-1").splitlines())


def load_lee_similarity(
    *, limit: int | None = None, root: Path | None = None
) -> Source[RatedPair]:
    """The 1,225 pairs of the 50 Lee documents with their mean human similarity (0-1).

    ``similarities0-1.txt`` is a 50×50 upper-triangular matrix (1 on the diagonal); the pairs
    are its entries above the diagonal, row by row (document i before j, i < j).

    Example:
        >>> pair = load_lee_similarity(limit=1).items[0]
        >>> pair.score, pair.b[:21]
        (0.3, 'Cash-strapped financi')
    """
    docs = load_lee_documents(root=root)
    text = _file("similarities0-1.txt", root).read_text(encoding="ascii")
    matrix = [[float(x) for x in line.split()] for line in text.splitlines() if line.strip()]
    if len(matrix) != len(docs) or any(len(row) != len(docs) for row in matrix):
        raise ValueError(f"expected a {len(docs)}×{len(docs)} similarity matrix")
    items = [RatedPair(docs[i], docs[j], matrix[i][j])
             for i in range(len(docs)) for j in range(i + 1, len(docs))]
    return Source(name="lee-similarity", items=tuple(items[:limit]), origin=ORIGIN,
                  license=LICENSE + "; cite Lee, Pincombe & Welsh 2005")


def _word_pairs(name: str, root: Path | None, limit: int | None) -> tuple[RatedPair, ...]:
    items = []
    for line in _file(name, root).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            a, b, score = line.split("\t")[:3]
            items.append(RatedPair(a, b, float(score)))
    return tuple(items[:limit])


def load_wordsim353(*, limit: int | None = None, root: Path | None = None) -> Source[RatedPair]:
    """The 353 WordSim353 pairs with their mean human relatedness (0-10), in the file's order.

    One pair occurs twice ("money"/"cash": 9.15 and 9.08), as in the published set.

    Example:
        >>> load_wordsim353(limit=2).items[1]
        RatedPair(a='tiger', b='cat', score=7.35)
    """
    return Source(name="wordsim353", items=_word_pairs("wordsim353.tsv", root, limit),
                  origin=ORIGIN, license=LICENSE + "; cite Finkelstein et al. 2002")


def load_simlex999(*, limit: int | None = None, root: Path | None = None) -> Source[RatedPair]:
    """The 999 SimLex-999 pairs with their mean human similarity (0-10), in the file's order.

    Example:
        >>> load_simlex999(limit=1).items[0]
        RatedPair(a='old', b='new', score=1.58)
    """
    return Source(name="simlex999", items=_word_pairs("simlex999.txt", root, limit),
                  origin=ORIGIN, license=LICENSE + "; cite Hill, Reichart & Korhonen 2015")
