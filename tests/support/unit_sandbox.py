"""Run a command under the seccomp filters and prctl settings a systemd user manager gives a unit.

No systemd manager runs in a container or in CI, so this applies what the unit's [Service] section
asks of the kernel the way systemd 252 does (src/shared/seccomp-util.c), with libseccomp (which
systemd itself links, so it is on every machine that has systemd), then execs the command:

- ``SystemCallFilter=`` lines in order: the first one decides allow- or deny-list, later ones add
  or remove calls; groups expand with ``systemd-analyze syscall-filter`` (the same tables systemd
  uses). A refused call fails with ``SystemCallErrorNumber=``. Only native-ABI calls are allowed
  at all, which is ``SystemCallArchitectures=native``.
- ``RestrictAddressFamilies=``: ``socket()`` of another family fails with EAFNOSUPPORT.
- ``MemoryDenyWriteExecute=``: writable and executable mappings fail with EPERM.
- ``RestrictNamespaces=yes``: unshare/clone with namespace flags and setns fail with EPERM, and
  clone3 with ENOSYS (its flags cannot be filtered), so glibc falls back to clone for threads.
- ``NoNewPrivileges=`` and ``UMask=``.

Settings whose only effect is to refuse calls reeld never makes are checked by name but not
applied (``IGNORED_SETTINGS``). ``python -m tests.support.unit_sandbox UNIT -- COMMAND...``
"""

import ctypes
import ctypes.util
import errno
import functools
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: [Service] settings that say how to run the service, not what to refuse.
SERVICE_SETTINGS = frozenset(
    {"Type", "BusName", "ExecStart", "Restart", "RestartSec", "TimeoutStopSec", "Environment"}
)
#: Applied here as systemd applies them.
APPLIED_SETTINGS = frozenset(
    {
        "SystemCallFilter",
        "SystemCallErrorNumber",
        "SystemCallArchitectures",
        "RestrictAddressFamilies",
        "MemoryDenyWriteExecute",
        "RestrictNamespaces",
        "NoNewPrivileges",
        "UMask",
    }
)
#: Not applied: each refuses only calls reeld never makes. RestrictRealtime= refuses real-time
#: scheduling policies (their calls are in @resources, refused anyway); RestrictSUIDSGID= set-uid
#: modes; LockPersonality= personality changes; KeyringMode= gives the service its own kernel
#: keyring (and @keyring is refused anyway).
IGNORED_SETTINGS = frozenset({"RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "KeyringMode"})

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_EQ, _SCMP_CMP_GT, _SCMP_CMP_LT, _SCMP_CMP_MASKED_EQ = 4, 6, 2, 7
_PR_SET_NO_NEW_PRIVS = 38
_PROT_WRITE, _PROT_EXEC, _SHM_EXEC = 0x2, 0x4, 0o100000
_CLONE_NEW_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
_AF_MAX = 64


def _errno_action(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    """libseccomp's ``struct scmp_arg_cmp``."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Every Key=value of a unit file's [Service] section, in order (keys may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@functools.cache
def syscall_group(name: str) -> frozenset[str]:
    """The system calls of group ``@name`` (nested groups expanded), as systemd-analyze lists them."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager", name],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    calls: set[str] = set()
    for line in listing.splitlines()[1:]:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        calls |= syscall_group(entry) if entry.startswith("@") else {entry}
    return frozenset(calls)


def _expand(items: Iterable[str]) -> set[str]:
    calls: set[str] = set()
    for item in items:
        if ":" in item:
            raise ValueError(f"per-call error numbers are not supported here: {item}")
        calls |= syscall_group(item) if item.startswith("@") else {item}
    return calls


@dataclass
class SyscallFilter:
    """What ``SystemCallFilter=`` lines leave: an allow-list (``calls`` are the allowed ones) or a
    deny-list (``calls`` are the refused ones)."""

    allow_list: bool = True
    calls: set[str] = field(default_factory=set)

    @classmethod
    def from_lines(cls, lines: Sequence[str]) -> "SyscallFilter":
        result: SyscallFilter | None = None
        for line in lines:
            inverted = line.startswith("~")
            items = line.removeprefix("~").split()
            if not items:
                result = None  # an empty assignment resets the list
                continue
            if result is None:
                # systemd adds @default to an allow-list: what every program needs to run at all.
                result = cls(False, set()) if inverted else cls(True, _expand(["@default"]))
            if inverted == result.allow_list:
                result.calls -= _expand(items)
            else:
                result.calls |= _expand(items)
        return result or cls(False, set())

    def allows(self, call: str) -> bool:
        return (call in self.calls) == self.allow_list


class _Seccomp:
    """The few libseccomp calls needed, through ctypes: one filter per ``context()``, loaded in
    turn (the kernel runs every loaded filter and the strictest answer wins, as with systemd)."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
        self.lib = ctypes.CDLL(name, use_errno=True)
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        self.lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.lib.seccomp_release.argtypes = [ctypes.c_void_p]

    def number(self, call: str) -> int | None:
        """The native call number, or None for a call this architecture does not have."""
        number = int(self.lib.seccomp_syscall_resolve_name(call.encode()))
        return number if number >= 0 else None

    def load(
        self, default_action: int, rules: Sequence[tuple[int, str, Sequence[tuple[int, int, int]]]]
    ) -> None:
        """Load one filter: ``rules`` are (action, call, [(argument, comparison, value)…])."""
        context = self.lib.seccomp_init(default_action)
        if not context:
            raise OSError("seccomp_init failed")
        try:
            for action, call, comparisons in rules:
                number = self.number(call)
                if number is None:
                    continue
                args = (_ArgCmp * max(1, len(comparisons)))()
                for slot, (arg, op, value) in enumerate(comparisons):
                    # MASKED_EQ compares (argument & datum_a) with datum_b: the mask is the value.
                    args[slot] = _ArgCmp(arg, op, value, value if op == _SCMP_CMP_MASKED_EQ else 0)
                code = self.lib.seccomp_rule_add_array(context, action, number, len(comparisons), args)
                if code < 0:
                    raise OSError(-code, f"seccomp_rule_add {call}: {os.strerror(-code)}")
            code = self.lib.seccomp_load(context)
            if code < 0:
                raise OSError(-code, f"seccomp_load: {os.strerror(-code)}")
        finally:
            self.lib.seccomp_release(context)


def _syscall_rules(
    settings: dict[str, list[str]],
) -> tuple[int, list[tuple[int, str, list[tuple[int, int, int]]]]]:
    error = getattr(errno, settings.get("SystemCallErrorNumber", ["EPERM"])[-1])
    refused = _errno_action(error)
    chosen = SyscallFilter.from_lines(settings.get("SystemCallFilter", []))
    action, default = (_SCMP_ACT_ALLOW, refused) if chosen.allow_list else (refused, _SCMP_ACT_ALLOW)
    return default, [(action, call, []) for call in sorted(chosen.calls)]


def _address_family_rules(families: Sequence[str]) -> list[tuple[int, str, list[tuple[int, int, int]]]]:
    import socket

    allowed = sorted({int(getattr(socket, name)) for name in families})
    refused = _errno_action(errno.EAFNOSUPPORT)
    rules = [
        (refused, "socket", [(0, _SCMP_CMP_LT, allowed[0])]),
        (refused, "socket", [(0, _SCMP_CMP_GT, allowed[-1])]),
    ]
    rules += [
        (refused, "socket", [(0, _SCMP_CMP_EQ, family)])
        for family in range(allowed[0], min(allowed[-1], _AF_MAX))
        if family not in allowed
    ]
    return rules


def _write_execute_rules() -> list[tuple[int, str, list[tuple[int, int, int]]]]:
    refused = _errno_action(errno.EPERM)
    return [
        (refused, "mmap", [(2, _SCMP_CMP_MASKED_EQ, _PROT_WRITE | _PROT_EXEC)]),
        (refused, "mprotect", [(2, _SCMP_CMP_MASKED_EQ, _PROT_EXEC)]),
        (refused, "pkey_mprotect", [(2, _SCMP_CMP_MASKED_EQ, _PROT_EXEC)]),
        (refused, "shmat", [(2, _SCMP_CMP_MASKED_EQ, _SHM_EXEC)]),
    ]


def _namespace_rules() -> list[tuple[int, str, list[tuple[int, int, int]]]]:
    refused = _errno_action(errno.EPERM)
    rules: list[tuple[int, str, list[tuple[int, int, int]]]] = [
        (_errno_action(errno.ENOSYS), "clone3", []),
        (refused, "setns", []),
    ]
    for call in ("unshare", "clone"):
        rules += [(refused, call, [(0, _SCMP_CMP_MASKED_EQ, flag)]) for flag in _CLONE_NEW_FLAGS]
    return rules


def _is_yes(values: Sequence[str]) -> bool:
    return bool(values) and values[-1].lower() in {"yes", "true", "on", "1"}


def check_known(settings: dict[str, list[str]]) -> None:
    """Refuse a unit with a setting this module neither applies nor knows to be safe to skip: the
    test would otherwise prove less than it claims."""
    unknown = set(settings) - SERVICE_SETTINGS - APPLIED_SETTINGS - IGNORED_SETTINGS
    if unknown:
        raise ValueError(f"unit_sandbox does not apply: {sorted(unknown)}")
    if settings.get("SystemCallArchitectures", ["native"])[-1] != "native":
        raise ValueError("only SystemCallArchitectures=native is applied")
    if any(value.startswith("~") for value in settings.get("RestrictAddressFamilies", [])):
        raise ValueError("only an allow-list of RestrictAddressFamilies= is applied")
    namespaces = settings.get("RestrictNamespaces")
    if namespaces and not _is_yes(namespaces):
        raise ValueError("only RestrictNamespaces=yes is applied")


def apply(unit: Path) -> None:
    """Restrict the calling process (and whatever it execs) as ``unit``'s settings would."""
    settings = unit_settings(unit)
    check_known(settings)
    if "UMask" in settings:
        os.umask(int(settings["UMask"][-1], 8))
    libc = ctypes.CDLL(None, use_errno=True)
    if _is_yes(settings.get("NoNewPrivileges", [])) and libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    seccomp = _Seccomp()
    # Like systemd: the narrower filters first, the system-call list last.
    if "RestrictAddressFamilies" in settings:
        seccomp.load(_SCMP_ACT_ALLOW, _address_family_rules(settings["RestrictAddressFamilies"][-1].split()))
    if _is_yes(settings.get("MemoryDenyWriteExecute", [])):
        seccomp.load(_SCMP_ACT_ALLOW, _write_execute_rules())
    if _is_yes(settings.get("RestrictNamespaces", [])):
        seccomp.load(_SCMP_ACT_ALLOW, _namespace_rules())
    if "SystemCallFilter" in settings:
        seccomp.load(*_syscall_rules(settings))


def main(argv: Sequence[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m tests.support.unit_sandbox UNIT -- COMMAND [ARG...]")
    apply(Path(argv[0]))
    os.execvp(argv[2], list(argv[2:]))


if __name__ == "__main__":
    main(sys.argv[1:])
