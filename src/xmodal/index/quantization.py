"""Quantised collections: the ``quantization`` option of a collection and its store mappings.

A collection is created with ``quantization="none"`` (float32 vectors in RAM, the default),
``"scalar"`` (int8 codes, one byte per dimension: 4× less vector memory) or ``"binary"``
(one bit per dimension: 32× less). The setting is stored in the collection's metadata, is
fixed for the collection's life (asking an existing collection for another setting is a
:class:`~xmodal.index.types.CollectionMismatchError`; drop and re-create it to change it), and
:class:`~xmodal.index.types.CollectionInfo` shows it.

How each backend honours it:

* **Qdrant Edge** and a **Qdrant server**: the store keeps the quantised codes in RAM
  (``always_ram``; binary: 1 bit per dimension, queries encoded with 8 bits) and the original
  float32 vectors on disk (memory-mapped). A search walks the HNSW graph on the codes, takes
  ``k × oversampling`` candidates (:data:`OVERSAMPLING`) and rescores them with the original
  vectors, so the returned scores are exact cosines; only the membership of the top-k is
  approximate. Qdrant builds the codes when it optimises a segment; small segments that are
  searched exactly (under ``full_scan_threshold_kb``, or not yet optimised) use the original
  vectors, as do all searches of the ``qdrant-local`` mode (a brute-force implementation that
  stores the setting and ignores it).
* **exact**: stores the setting and always searches the original float32 vectors exactly. It is
  the oracle the quantised backends are tested against, so it does not quantise.

Example:
    >>> check_quantization("scalar")
    'scalar'
    >>> check_quantization("int4")
    Traceback (most recent call last):
    ...
    ValueError: quantization 'int4': use one of 'none', 'scalar', 'binary'
    >>> OVERSAMPLING["binary"] > OVERSAMPLING["scalar"]
    True
"""

from __future__ import annotations

from typing import Any, Literal, cast, get_args

Quantization = Literal["none", "scalar", "binary"]
"""How a collection stores its vectors for search (see the module docstring)."""

EdgePlan = Literal["hnsw", "acorn", "exact"]
"""How an Edge search runs: the HNSW graph, the graph with ACORN's two-hop walk (a filter the
graph was not built for), or every point a filter admits, scored exactly."""
QUANTIZATIONS: tuple[Quantization, ...] = get_args(Quantization)
"""The accepted settings, in order of decreasing memory."""

SCALAR_QUANTILE = 0.99
"""Scalar (int8) quantisation clips each collection's values at this quantile (Qdrant's
recommended value: outliers would otherwise waste the 256 levels)."""

OVERSAMPLING: dict[Quantization, float] = {"none": 1.0, "scalar": 2.0, "binary": 8.0}
"""Candidates taken from the quantised index per hit wanted, rescored with the original
vectors. Binary codes rank coarsely, more so at low dimensions: measured on clustered unit
vectors, 4× gave recall@10 0.79 at 128-d (8×: 0.99) and 0.96 at 512-d (8×: 0.96)."""


def check_quantization(value: object) -> Quantization:
    """Return ``value`` if it is a quantisation setting, else a ValueError naming it.

    Args:
        value: ``"none"``, ``"scalar"`` or ``"binary"``.

    Returns:
        The setting.

    Raises:
        ValueError: anything else (names the value and the accepted ones).
    """
    if not isinstance(value, str) or value not in QUANTIZATIONS:
        accepted = ", ".join(repr(q) for q in QUANTIZATIONS)
        raise ValueError(f"quantization {value!r}: use one of {accepted}")
    return cast(Quantization, value)


def stored_quantization(meta: dict[str, Any]) -> Quantization:
    """The setting of a collection's metadata (collections made before it existed: ``"none"``).

    Example:
        >>> stored_quantization({"name": "old"}), stored_quantization({"quantization": "binary"})
        ('none', 'binary')
    """
    return check_quantization(meta.get("quantization", "none"))


# -- Qdrant Edge -----------------------------------------------------------------------------
def edge_vector_options(qe: Any, quantization: Quantization) -> dict[str, Any]:
    """Keyword options of ``qdrant_edge.EdgeVectorParams`` for a setting.

    Quantised: codes in RAM (``always_ram``), original vectors memory-mapped from disk.

    Args:
        qe: The ``qdrant_edge`` module.
        quantization: The collection's setting.
    """
    if quantization == "none":
        return {}
    if quantization == "scalar":
        config = qe.ScalarQuantizationConfig(
            type=qe.ScalarType.Int8, quantile=SCALAR_QUANTILE, always_ram=True
        )
    else:  # 1 bit per dimension stored; the query keeps 8 bits (asymmetric: better ranking)
        config = qe.BinaryQuantizationConfig(
            always_ram=True,
            encoding=qe.BinaryQuantizationEncoding.OneBit,
            query_encoding=qe.BinaryQuantizationQueryEncoding.Scalar8Bits,
        )
    return {"on_disk": True, "quantization_config": config}


def edge_search_params(qe: Any, quantization: Quantization, ef: int, *,
                       plan: EdgePlan = "hnsw") -> Any:
    """``qdrant_edge.SearchParams`` of a search: HNSW ``ef``, plus oversampling and rescoring
    with the original vectors on a quantised collection. ``plan``: ``"hnsw"``, ``"acorn"``
    (filtered HNSW that also walks two hops, for a filter the graph was not built for) or
    ``"exact"`` (every point the filter admits)."""
    extra: dict[str, Any] = {}
    if plan == "acorn":
        extra["acorn"] = qe.AcornSearchParams(enable=True, max_selectivity=1.0)
    elif plan == "exact":
        extra["exact"] = True
    if quantization == "none":
        return qe.SearchParams(hnsw_ef=ef, **extra)
    return qe.SearchParams(
        hnsw_ef=ef, **extra,
        quantization=qe.QuantizationSearchParams(
            rescore=True, oversampling=OVERSAMPLING[quantization]
        ),
    )


# -- Qdrant server (qdrant-client) -----------------------------------------------------------
def server_vector_options(m: Any, quantization: Quantization) -> dict[str, Any]:
    """Keyword options of ``qdrant_client.models.VectorParams`` for a setting.

    Args:
        m: The ``qdrant_client.models`` module.
        quantization: The collection's setting.
    """
    if quantization == "none":
        return {}
    if quantization == "scalar":
        config: Any = m.ScalarQuantization(
            scalar=m.ScalarQuantizationConfig(
                type=m.ScalarType.INT8, quantile=SCALAR_QUANTILE, always_ram=True
            )
        )
    else:
        config = m.BinaryQuantization(
            binary=m.BinaryQuantizationConfig(
                always_ram=True,
                encoding=m.BinaryQuantizationEncoding.ONE_BIT,
                query_encoding=m.BinaryQuantizationQueryEncoding.SCALAR8BITS,
            )
        )
    return {"on_disk": True, "quantization_config": config}


def server_search_params(m: Any, quantization: Quantization, ef: int) -> Any:
    """``qdrant_client.models.SearchParams`` of a search (see :func:`edge_search_params`)."""
    if quantization == "none":
        return m.SearchParams(hnsw_ef=ef)
    return m.SearchParams(
        hnsw_ef=ef,
        quantization=m.QuantizationSearchParams(
            rescore=True, oversampling=OVERSAMPLING[quantization]
        ),
    )
