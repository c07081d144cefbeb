"""The `opsgate` command line: each command opens one transaction and commits once.

`main` is the click group (webui.cli.base); the command modules below add their commands to
it when imported, so importing this package gives the whole command line.
"""
from webui.cli import backups, demo, directory, evaluate, messaging, migrate, serve, setup, worker  # noqa: F401 - each registers its commands
from webui.cli.base import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
