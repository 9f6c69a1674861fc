"""The sanitizer worker: one process per file, confined before it sees the file (issue 8, section 3).

A decoder bug that a hostile file exploits runs code here, so this process must have nothing worth taking:
sandbox.py starts it with an empty environment and no descriptor of the bot's but its two pipes, and the
worker then, with whatever the kernel allows without extra privileges,
- leaves root for nobody (65534), in a mount namespace where a directory nobody may not pass on the way to
  the interpreter (root's home, on some machines) is replaced by a tmpfs holding just the interpreter, and
  where its temporary directory is a private size-limited tmpfs (memory, not disk; gone with the worker)
  that hides the other workers' directories;
- enters user and network namespaces: no network at all, and RLIMIT_NPROC counts this worker's processes only;
- is limited by rlimits (memory, a hard CPU ceiling per file, processes, file size, no core dumps);
- is restricted by Landlock to reading the Python installation and the project's packages, writing its
  temporary directory, no TCP, no signals or abstract sockets out of the sandbox (nor ptrace: the bot's
  /proc/<pid>/environ and memory stay closed);
- and by a seccomp filter: no sockets but Unix ones, no namespaces, mounts, ptrace, io_uring, bpf or keyrings.
What a machine cannot give is reported to the bot, which says so once and relies on the rest.
"""

from __future__ import annotations

import ctypes
import errno
import importlib
import math
import os
import pickle
import platform
import resource
import struct
import sys
import tempfile
import traceback
from collections.abc import Iterable
from dataclasses import dataclass

import bot

HEADER = struct.Struct(">Q")
NOBODY = 65534

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
_NAMESPACE_FLAGS = 0x7E020000  # the CLONE_NEW* flags clone() takes, for the seccomp filter
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
_PR_SET_DUMPABLE, _PR_SET_SECCOMP, _PR_SET_NO_NEW_PRIVS = 4, 22, 38


@dataclass(frozen=True)
class Config:
    """What the bot tells a new worker, before anything else."""

    temp_dir: str
    memory_bytes: int
    cpu_seconds: int
    file_bytes: int
    temp_bytes: int
    processes: int
    workers: int
    preload: tuple[str, ...] = ()


def frame(message: object) -> bytes:
    """One message on a pipe: its length, then its pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def main() -> None:
    """Run by `python -I -c` from sandbox.py: confine, say ready, clean one file, answer, exit.

    The pipes move off descriptors 0 and 1 first, so nothing a library prints can corrupt the protocol.
    """
    inbox, outbox = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    os.umask(0o077)
    config: Config = _receive(inbox)
    try:
        unavailable, private_temp = confine(config)
        for module in config.preload:
            importlib.import_module(module)
    except Exception:
        _send(outbox, ("failed", traceback.format_exc()))
        os._exit(1)
    _send(outbox, ("ready", tuple(unavailable), private_temp))
    _limit_cpu(config.cpu_seconds)
    func, args = _receive(inbox)
    try:
        answer = frame(("ok", func(*args)))
    except Exception as exc:
        try:
            answer = frame(("error", exc))
        except Exception:
            answer = frame(("error", RuntimeError(f"{type(exc).__name__} in the sandbox worker")))
    _send(outbox, answer)
    os._exit(0)


def _limit_cpu(seconds: int) -> None:
    """`seconds` more CPU time for the file. SIGXCPU at the budget ends the worker; the hard limit a second
    later ends one that ignores it (RLIMIT_CPU counts the process's lifetime, and start-up is not the file's)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    budget = math.ceil(used.ru_utime + used.ru_stime) + seconds
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    ceiling = budget + 1 if hard == resource.RLIM_INFINITY else min(budget + 1, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (min(budget, ceiling), ceiling))


def _receive(fd: int) -> object:
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size))
    return pickle.loads(_read_exactly(fd, size))


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            os._exit(0)  # the bot is gone or gave up on this worker
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _send(fd: int, message: object) -> None:
    data = memoryview(message if isinstance(message, bytes) else frame(message))
    while data:
        data = data[os.write(fd, data) :]


# ---------------------------------------------------------------- confinement


def confine(config: Config) -> tuple[list[str], bool]:
    """Confine this process; the protections this machine could not give, and whether temporary files are
    in a private tmpfs."""
    unavailable: list[str] = []
    trees, listable = _readable()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _limit(resource.RLIMIT_AS, config.memory_bytes)
    _limit(resource.RLIMIT_FSIZE, config.file_bytes)
    namespaces, private_temp, dropped = 0, False, False
    if os.geteuid() == 0:
        namespaces = _unshare_each(CLONE_NEWNS, CLONE_NEWNET)  # root needs no user namespace for these
        private_temp = bool(namespaces & CLONE_NEWNS) and _mount_privately(config, trees, NOBODY, NOBODY)
        dropped = _leave_root(config, trees)
        if not dropped:
            unavailable.append("unprivileged user")
    wanted = CLONE_NEWUSER | (CLONE_NEWNS | CLONE_NEWNET) & ~namespaces
    entered = _enter_user_namespace(wanted)
    if entered:
        namespaces |= wanted
        if wanted & CLONE_NEWNS:
            private_temp = _mount_privately(config, trees, os.geteuid(), os.getegid())
        _drop_capabilities()
    else:
        unavailable.append("user namespace")
    unavailable += [] if private_temp else ["mount namespace"]
    unavailable += [] if namespaces & CLONE_NEWNET else ["network namespace"]
    if entered or dropped:
        # In its own user namespace a worker's processes are counted apart; as nobody they are shared by all.
        _limit(resource.RLIMIT_NPROC, config.processes * (1 if entered else config.workers))
    else:
        unavailable.append("process limit")
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    _prctl(_PR_SET_DUMPABLE, 0)
    unavailable += _landlock(trees, listable, config.temp_dir)
    unavailable += _seccomp()
    tempfile.tempdir = config.temp_dir
    return unavailable, private_temp


def _leave_root(config: Config, trees: Iterable[str]) -> bool:
    """Become nobody if nobody can reach what the worker needs; otherwise stay root, without capabilities."""
    if all(_reachable(path, NOBODY, NOBODY) for path in [*trees, config.temp_dir]):
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return True
    os.chown(config.temp_dir, 0, 0)  # the bot made it nobody's
    _drop_capabilities()
    return False


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (value, value))


def _readable() -> tuple[set[str], set[str]]:
    """Trees the worker may read: the Python installation, the project's packages and what the dynamic linker
    needs; and directories it may only list (sys.path entries outside the installation, such as a project
    root, whose data and settings files stay closed)."""
    trees = {os.path.realpath(path) for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    trees |= {os.path.dirname(os.path.realpath(sys.executable)), *map(os.path.realpath, bot.__path__)}
    listable = set()
    for entry in map(os.path.realpath, sys.path):
        if any(_within(entry, tree) for tree in trees) or not os.path.exists(entry):
            continue
        if not os.path.isdir(entry):
            trees.add(entry)  # a zip archive
            continue
        listable.add(entry)
        for name in os.listdir(entry):
            child = os.path.join(entry, name)
            if os.path.isfile(os.path.join(child, "__init__.py")) or name.endswith((".py", ".pyc", ".so")):
                trees.add(child)
    system = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/etc/ld.so.cache", "/etc/localtime")
    return trees | {path for path in system if os.path.exists(path)}, listable


def _within(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def _unshare_each(*flags: int) -> int:
    entered = 0
    for flag in flags:
        if _libc.unshare(flag) == 0:
            entered |= flag
    return entered


def _enter_user_namespace(flags: int) -> bool:
    """A user namespace (plus `flags`) in which this process is its own uid, mapped to itself."""
    uid, gid = os.geteuid(), os.getegid()
    _prctl(_PR_SET_DUMPABLE, 1)  # after setuid /proc/self/*_map belong to root until the process is dumpable
    if _libc.unshare(flags) != 0:
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    return True


def _drop_capabilities() -> None:
    """Clear this process's capabilities: those a new user namespace gives (they could undo the mounts), or
    root's when it cannot become nobody."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data))


def _mount_privately(config: Config, trees: Iterable[str], uid: int, gid: int) -> bool:
    """In this process's own mount namespace: make `trees` reachable for `uid`, and put the temporary
    directory on a size-limited tmpfs over the slots' parent, which hides the other workers' directories.
    False when the kernel refuses a mount."""
    try:
        _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
        slots = os.path.dirname(config.temp_dir)
        _expose([*trees, slots], uid, gid)
        _mount("tmpfs", slots, "tmpfs", _MS_NOSUID | _MS_NODEV, f"mode=0755,size={config.temp_bytes}")
    except OSError:
        return False
    os.mkdir(config.temp_dir, 0o700)
    os.chown(config.temp_dir, uid, gid)
    return True


def _expose(paths: Iterable[str], uid: int, gid: int) -> None:
    """Over-mount each directory that `uid` cannot pass on the way to `paths` (such as root's home, which
    holds the interpreter) with a tmpfs holding only those paths, bound from the originals."""
    hidden: dict[str, list[str]] = {}
    for path in sorted(set(paths)):
        blocked = _first_blocked(path, uid, gid)
        if blocked is not None and not any(_within(path, kept) for kept in hidden.get(blocked, [])):
            hidden.setdefault(blocked, []).append(path)
    for blocked, inside in hidden.items():
        sources = [os.open(path, os.O_PATH | os.O_CLOEXEC) for path in inside]
        _mount("tmpfs", blocked, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
        for path, source in zip(inside, sources, strict=True):
            _make_passable_dirs(blocked, os.path.dirname(path))
            if os.path.isdir(f"/proc/self/fd/{source}"):
                _make_passable_dirs(blocked, path)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            _mount(f"/proc/self/fd/{source}", path, None, _MS_BIND | _MS_REC)
            os.close(source)


def _make_passable_dirs(top: str, path: str) -> None:
    for depth in range(len(top.rstrip("/").split("/")) + 1, len(path.split("/")) + 1):
        directory = "/".join(path.split("/")[:depth])
        if not os.path.isdir(directory):
            os.mkdir(directory)
            os.chmod(directory, 0o755)


def _first_blocked(path: str, uid: int, gid: int) -> str | None:
    """The outermost directory above `path` that `uid` may not pass through."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        ancestor = "/".join(parts[:depth]) or "/"
        if not _permits(ancestor, uid, gid, 1):
            return ancestor
    return None


def _reachable(path: str, uid: int, gid: int) -> bool:
    return _first_blocked(path, uid, gid) is None and _permits(path, uid, gid, 4)


def _permits(path: str, uid: int, gid: int, bits: int) -> bool:
    status = os.stat(path)
    shift = 6 if status.st_uid == uid else 3 if status.st_gid == gid else 0
    return status.st_mode >> shift & bits == bits


def _mount(source: str | None, target: str, kind: str | None, flags: int, options: str | None = None) -> None:
    encode = lambda text: None if text is None else os.fsencode(text)  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(kind), ctypes.c_ulong(flags), encode(options)))


_ZERO = (ctypes.c_ulong(0), ctypes.c_ulong(0))


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), *_ZERO))


def _check(result: int) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


# ---------------------------------------------------------------- Landlock

_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR, _TRUNCATE = 1, 2, 4, 8, 1 << 14
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | 1 << 15  # the rights a rule on a file may hold


def _landlock(trees: Iterable[str], listable: Iterable[str], temp_dir: str) -> list[str]:
    """Allow reading `trees`, listing `listable`, everything in `temp_dir`, and nothing else: no other file,
    no TCP, no signal or abstract Unix socket out of this sandbox, no ptrace of the bot."""
    abi = _libc.syscall(ctypes.c_long(_LANDLOCK_CREATE_RULESET), None, ctypes.c_long(0), ctypes.c_long(1))
    if abi < 1:
        return ["Landlock"]
    handled = (1 << 13) - 1 | (abi >= 2) << 13 | (abi >= 3) << 14 | (abi >= 5) << 15
    attr = struct.pack("<QQQ", handled, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    try:
        ruleset = _check(_syscall(_LANDLOCK_CREATE_RULESET, ctypes.create_string_buffer(attr[:size], size), size, 0))
    except OSError:
        return ["Landlock"]
    try:
        read = _EXECUTE | _READ_FILE | _READ_DIR
        rules = [(path, read) for path in trees] + [(path, _READ_DIR) for path in listable]
        rules += [("/proc/self", _READ_FILE | _READ_DIR), ("/sys/devices/system/cpu", _READ_FILE | _READ_DIR)]
        rules += [("/dev/null", _READ_FILE | _WRITE_FILE | _TRUNCATE), ("/dev/urandom", _READ_FILE)]
        rules.append((temp_dir, handled))
        for path, rights in rules:
            _allow(ruleset, path, rights & handled)
        _check(_syscall(_LANDLOCK_RESTRICT_SELF, ruleset, 0))
    except OSError:
        return ["Landlock"]
    finally:
        os.close(ruleset)
    return [] if abi >= 4 else ["Landlock network rules"]


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not os.path.isdir(f"/proc/self/fd/{target}"):
            rights &= _FILE_RIGHTS
        rule = ctypes.create_string_buffer(struct.pack("<Qi", rights, target), 12)  # landlock_path_beneath_attr
        _check(_syscall(_LANDLOCK_ADD_RULE, ruleset, 1, rule, 0))  # LANDLOCK_RULE_PATH_BENEATH
    finally:
        os.close(target)


def _syscall(number: int, *args: int | ctypes.Array) -> int:
    return _libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))


# ---------------------------------------------------------------- seccomp

_SYSCALLS = {  # machine: (AUDIT_ARCH_*, numbers)
    "x86_64": (0xC000003E, {
        "socket": 41, "clone": 56, "clone3": 435, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "keyctl": 250,
        "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    }),
    "aarch64": (0xC00000B7, {
        "socket": 198, "clone": 220, "clone3": 435, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39,
        "pivot_root": 41, "chroot": 51, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "keyctl": 219,
        "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    }),
}  # fmt: skip
_LD_ABS, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_ALLOW, _KILL, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000


def _seccomp() -> list[str]:
    """Deny what a confined decoder has no use for and an exploit would want: sockets other than Unix ones,
    new namespaces (clone3's flags cannot be read, so it answers ENOSYS and the C library falls back to
    clone), mounts, ptrace and reading other processes' memory, io_uring, bpf, perf events and keyrings."""
    known = _SYSCALLS.get(platform.machine())
    if known is None:
        return ["seccomp"]
    arch, numbers = known
    deny = _ERRNO | errno.EPERM
    program = [(_LD_ABS, 0, 0, 4), (_JEQ, 1, 0, arch), (_RET, 0, 0, _KILL), (_LD_ABS, 0, 0, 0)]
    if arch == 0xC000003E:
        program += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, _KILL)]  # the x32 syscall numbers
    program += [(_JEQ, 0, 1, numbers["clone3"]), (_RET, 0, 0, _ERRNO | errno.ENOSYS)]
    program += [  # socket(domain, ...): AF_UNIX only
        (_JEQ, 0, 4, numbers["socket"]), (_LD_ABS, 0, 0, 16), (_JEQ, 0, 1, 1), (_RET, 0, 0, _ALLOW),
        (_RET, 0, 0, _ERRNO | errno.EAFNOSUPPORT),
    ]  # fmt: skip
    program += [  # clone(flags, ...): no new namespaces
        (_JEQ, 0, 4, numbers["clone"]), (_LD_ABS, 0, 0, 16), (_JSET, 0, 1, _NAMESPACE_FLAGS), (_RET, 0, 0, deny),
        (_RET, 0, 0, _ALLOW),
    ]  # fmt: skip
    for name, number in numbers.items():
        if name not in ("socket", "clone", "clone3"):
            program += [(_JEQ, 0, 1, number), (_RET, 0, 0, deny)]
    program.append((_RET, 0, 0, _ALLOW))
    filters = b"".join(struct.pack("<HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(filters, len(filters))
    fprog = struct.pack("<HxxxxxxQ", len(program), ctypes.addressof(buffer))
    try:
        _check(_libc.prctl(_PR_SET_SECCOMP, ctypes.c_ulong(2), ctypes.create_string_buffer(fprog, len(fprog)), *_ZERO))
    except OSError:
        return ["seccomp"]
    return []
