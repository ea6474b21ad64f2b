"""CLI: the ``jinqiao`` command (typer + rich). Human output by default, ``--json`` for scripts;
every failure is one clear line and a non-zero exit, never a traceback."""
