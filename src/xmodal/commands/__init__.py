"""What each ``xmodal`` command does, apart from argument parsing (``xmodal.cli`` parses).

One module per command or pair of commands: ``index`` (``xmodal index``), ``search``
(``xmodal search``), ``demo`` (``xmodal demo``), ``measure`` (``xmodal eval`` and
``xmodal diagnose``), ``calibrate`` (``xmodal calibrate``). Each ``run_*`` returns the process
exit code; results go to stdout (a table, or JSON with ``--json``), problems to stderr (and into
the JSON), never silently dropped. The servers (``xmodal serve``, ``xmodal mcp``) live in
:mod:`xmodal.api`.
"""
