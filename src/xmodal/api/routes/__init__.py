"""The HTTP API's routes: one module-level ``APIRouter`` per resource, included by
:func:`~xmodal.api.http.create_app` (FastAPI's "Bigger Applications" layout).

========================  =====================================================
``health``                ``GET /health``
``collections``           ``GET /collections``, ``GET /collections/{name}``, upsert, delete
``diagnostics``           ``GET /collections/{name}/diagnostics``
``search``                ``POST /search``, ``POST /search/file``
``items``                 ``GET /items/{collection}/{id}``
``media``                 ``GET /media/{doc_id}``, ``GET /media/{doc_id}/frame`` (a video's
                          frame, :mod:`~xmodal.api.frames`): no work slot (:mod:`~xmodal.api.media`)
``index``                 ``POST /index``
``web``                   ``GET /`` and ``/static``
========================  =====================================================

Routes get the service, its limits and the runner of their work from :mod:`.deps`; errors are
answered by :mod:`.errors`.
"""
