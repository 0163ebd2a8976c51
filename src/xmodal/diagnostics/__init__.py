"""Diagnostics: measure embeddings (collapse, coverage, modality gap), calibrate scores, report.

- :func:`diagnose` → :class:`Diagnosis` with :class:`Finding` s (what is wrong, and the remedy);
- :class:`Calibrator`: raw cosine → probability of relevance, per model and query type, with
  thresholds for a target precision or recall (stored with a collection);
- :class:`GapProjection`: map one modality onto the other to close the modality gap;
- :func:`fit_pair_calibration`: a calibrator (and gap projection) fitted on matched pairs,
  with its threshold checked on held-out pairs;
- :func:`write_report`: an HTML report with the findings and plots (:func:`recall_curves`).

:class:`Calibrator`, :class:`PairCalibration` and :func:`fit_pair_calibration` live in
:mod:`xmodal.calibration`, re-exported here.

Inference code: this package never imports ``xmodal.train``.
"""

from __future__ import annotations

from xmodal.calibration import Calibrator, PairCalibration, fit_pair_calibration

from .findings import Finding
from .gap import GapProjection
from .report import recall_curves, write_report
from .stats import Diagnosis, diagnose

__all__ = ["Calibrator", "Diagnosis", "Finding", "GapProjection", "PairCalibration", "diagnose",
           "fit_pair_calibration", "recall_curves", "write_report"]
