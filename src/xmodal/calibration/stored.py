"""What a collection stores for search: its calibrator and gap projection per query modality.

``CollectionInfo.calibration`` (written by ``xmodal calibrate``, :mod:`xmodal.commands.calibrate`)
holds one entry per *query* modality::

    {"text": {<Calibrator.to_dict()>,            # format, method, model, query_type, knots...
              "threshold": 0.31,                  # raw-cosine threshold (read by threshold_for)
              "target": {"precision": 0.8},       # what the threshold was chosen for
              "fitted_on": {...counts...},        # pairs, positives, negatives, split sizes
              "heldout": {...},                   # precision / recall at the threshold
              "projection": <GapProjection.to_dict()>},  # optional: text → item modality
     "image": {...}}

A searched list's raw cosines become probabilities through the entry of the query's modality;
the optional projection maps that modality's query vectors toward the collection's modality
(applied only when a search asks for it, see :class:`~xmodal.search.searcher.Searcher`).

Example:
    >>> import numpy as np
    >>> from xmodal.calibration import Calibrator
    >>> cal = Calibrator.from_pairs([0.3, 0.35, 0.28], [0.1, 0.15, 0.3], model="m")
    >>> stored = StoredCalibration.read({"text": cal.to_dict()}, "text")
    >>> stored.calibrator(np.array([0.4])).tolist(), stored.projection is None
    ([1.0], True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .calibrator import FORMAT as CALIBRATION_FORMAT
from .calibrator import Calibrator

if TYPE_CHECKING:
    from xmodal.diagnostics.gap import GapProjection

__all__ = ["StoredCalibration"]


@dataclass(frozen=True)
class StoredCalibration:
    """The usable parts of one collection's calibration entry for one query modality.

    Attributes:
        calibrator: Raw cosine → probability, or None when the entry holds no calibrator
            (e.g. the old flat ``{"threshold": x}`` form).
        projection: Query-vector projection (``source="a"`` = the query modality), or None.
    """

    calibrator: Calibrator | None
    projection: GapProjection | None

    @classmethod
    def read(cls, calibration: Mapping[str, Any] | None,
             query_modality: str) -> StoredCalibration:
        """Parse ``CollectionInfo.calibration`` for queries of ``query_modality``.

        Raises:
            ValueError: the entry claims to be a calibrator or projection but is malformed.
        """
        # not at module level: xmodal.search and xmodal.diagnostics import this package
        from xmodal.diagnostics.gap import GapProjection
        from xmodal.search.thresholds import calibration_for

        entry = calibration_for(calibration, query_modality)
        if not entry:
            return cls(None, None)
        cal = (Calibrator.from_dict(dict(entry))
               if entry.get("format") == CALIBRATION_FORMAT else None)
        proj_data = entry.get("projection")
        proj = GapProjection.from_dict(proj_data) if isinstance(proj_data, Mapping) else None
        return cls(cal, proj)
