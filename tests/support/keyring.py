"""A real Secret Service (gnome-keyring-daemon) on a private bus, and ways to read it back.

Secrets are read back the way other programs on the desktop would: ``secret-tool`` (libsecret) and
the python ``keyring`` library, each in its own process with the bus's environment.
"""

import json
import subprocess
import sys
from dataclasses import dataclass

from .bus import PrivateBus, wait_for_name
from .procs import stop_process, tail
from .tools import require_command

SECRETS_NAME = "org.freedesktop.secrets"

_KEYRING_SCRIPT = """
import json, sys
from keyring.backends.SecretService import Keyring
request = json.loads(sys.argv[1])
backend = Keyring()
if request["op"] == "set":
    backend.set_password(request["service"], request["username"], request["password"])
    print(json.dumps(None))
elif request["op"] == "delete":
    backend.delete_password(request["service"], request["username"])
    print(json.dumps(None))
else:
    print(json.dumps(backend.get_password(request["service"], request["username"])))
"""


@dataclass
class KeyringDaemon:
    """gnome-keyring-daemon serving ``org.freedesktop.secrets`` on ``bus``, its login keyring unlocked."""

    bus: PrivateBus
    process: subprocess.Popen[bytes]
    password: str

    def secret_tool_lookup(self, **attributes: str) -> str | None:
        """``secret-tool lookup`` by attributes: the secret, or None when nothing matches."""
        result = self._secret_tool("lookup", attributes)
        if result.returncode != 0:
            return None
        return result.stdout

    def secret_tool_store(self, label: str, secret: str, **attributes: str) -> None:
        result = self._secret_tool("store", attributes, label=label, secret=secret)
        assert result.returncode == 0, f"secret-tool store failed: {result.stderr}"

    def secret_tool_search(self, **attributes: str) -> str:
        """``secret-tool search --all``: the text listing matching items (attributes, not secrets)."""
        return self._secret_tool("search", attributes, extra=["--all"]).stdout

    def keyring_get(self, service: str, username: str) -> str | None:
        """``keyring.backends.SecretService.Keyring().get_password`` in another process."""
        result: str | None = self._keyring({"op": "get", "service": service, "username": username})
        return result

    def keyring_set(self, service: str, username: str, password: str) -> None:
        self._keyring({"op": "set", "service": service, "username": username, "password": password})

    def keyring_delete(self, service: str, username: str) -> None:
        self._keyring({"op": "delete", "service": service, "username": username})

    def log_text(self) -> str:
        return tail(self.bus.logs_dir / "gnome-keyring.log")

    def stop(self) -> None:
        stop_process(self.process, timeout=5)

    def _secret_tool(
        self,
        verb: str,
        attributes: dict[str, str],
        label: str | None = None,
        secret: str | None = None,
        extra: list[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        tool = require_command("secret-tool", "libsecret-tools")
        argv = [tool, verb, *(extra or [])]
        if label is not None:
            argv.append(f"--label={label}")
        for key, value in attributes.items():
            argv += [key, value]
        return subprocess.run(
            argv,
            input=secret or "",
            capture_output=True,
            text=True,
            env=self.bus.env(),
            timeout=20,
            check=False,
        )

    def _keyring(self, request: dict[str, str]) -> object:
        result = subprocess.run(
            [sys.executable, "-c", _KEYRING_SCRIPT, json.dumps(request)],
            capture_output=True,
            text=True,
            env=self.bus.env(),
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, f"keyring {request['op']} failed:\n{result.stderr}"
        return json.loads(result.stdout)


def start_keyring_daemon(
    bus: PrivateBus, password: str = "test-login-password", timeout: float = 15.0
) -> KeyringDaemon:
    """Start gnome-keyring-daemon on ``bus`` with its files in the bus's temp home, unlock the login
    keyring with ``password`` (creating it on first use) and wait until it owns the Secret Service name."""
    binary = require_command("gnome-keyring-daemon", "gnome-keyring")
    with open(bus.logs_dir / "gnome-keyring.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=bus.env(),
        )
    daemon = KeyringDaemon(bus=bus, process=process, password=password)
    try:
        assert process.stdin is not None
        process.stdin.write(password.encode())
        process.stdin.close()
        wait_for_name(
            bus.address,
            SECRETS_NAME,
            timeout=timeout,
            alive=lambda: process.poll() is None,
            describe=lambda: f"gnome-keyring-daemon log:\n{daemon.log_text()}",
        )
    except BaseException:
        daemon.stop()
        raise
    return daemon
