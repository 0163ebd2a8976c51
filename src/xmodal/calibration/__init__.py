"""Calibration: one model's raw cosine → the probability that a pair is relevant.

Where calibration lives:

- :mod:`xmodal.calibration.calibrator`: :class:`Calibrator` (isotonic or Platt), thresholds for
  a target precision or recall, its JSON form;
- :mod:`xmodal.calibration.fit`: :func:`fit_pair_calibration` → :class:`PairCalibration`, a
  calibrator (and gap projection) fitted on matched pairs, its threshold checked on held-out
  pairs;
- :mod:`xmodal.calibration.stored`: :class:`StoredCalibration`, a collection's stored calibrator
  and gap projection per query modality, read at search time;
- :mod:`xmodal.commands.calibrate`: ``xmodal calibrate``, fit and store one per collection of an
  index;
- :mod:`xmodal.search.calibrated`: fusion by calibrated probability;
- :mod:`xmodal.search.thresholds`: the raw-score threshold of a model (its calibration, else a
  family default).

Inference code: this package never imports ``xmodal.train``; it imports ``xmodal.search`` and
``xmodal.diagnostics`` only inside functions (both import it).
"""

from __future__ import annotations

from .calibrator import Calibrator
from .fit import PairCalibration, fit_pair_calibration
from .stored import StoredCalibration

__all__ = ["Calibrator", "PairCalibration", "StoredCalibration", "fit_pair_calibration"]
