"""A real OpenID provider for sign-in tests: the npm package oidc-provider (installed in
tests/oidc/ with `npm ci --prefix tests/oidc`), run with node on a free port of 127.0.0.1.

Its development login page accepts any password; the login is the account, whose claims
(`groups`, `email`) come from the `accounts` given here."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent / "oidc"
NODE = shutil.which("node") or "/usr/bin/node"


def available() -> bool:
    """Whether node and the oidc-provider package are installed."""
    return Path(NODE).exists() and (HERE / "node_modules" / "oidc-provider").is_dir()


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*, client_id: str, client_secret: str, redirect_uri: str, post_logout_uri: str,
          accounts: dict[str, dict]) -> Provider:
    """Start the provider; return once it answers."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "CLIENT_ID": client_id, "CLIENT_SECRET": client_secret,
           "REDIRECT_URI": redirect_uri, "POST_LOGOUT_URI": post_logout_uri, "ACCOUNTS": json.dumps(accounts)}
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"opsgate-oidc-provider-{port}.log"
    with open(log, "wb") as out:  # the child keeps its own descriptor: node never writes to a closed pipe
        process = subprocess.Popen([NODE, str(HERE / "provider.mjs")], cwd=HERE, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while "listening" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"oidc-provider did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    return Provider(f"http://127.0.0.1:{port}", process)
