"""Tests of llm.sandbox: every limit proven on a benign program first, then contained against hostile ones.

Safety: each hostile test depends on a module-scoped fixture that first proves, with a benign program, the limit
that contains it (a fork bomb runs only once ``RLIMIT_NPROC`` was seen to stop a 20-fork program at exactly the
budget; a memory bomb only once a 50 MB allocation failed under a 30 MB cap; an endless loop only once the wall
clock stopped a sleeper). If a proof fails, the hostile program never runs. Fork bombs run in the default suite
only as root, where the program has a fresh uid of its own (``RLIMIT_NPROC`` counts nothing else, and the kernel
enforces it for that uid machine-wide); as an ordinary user they are opt-in (``--runslow``).

The layers the machine offers are probed here independently of the sandbox (``PLATFORM``: an ``unshare`` in a
child, the Landlock ABI, an allow-all seccomp filter), and each one that exists must be reported *and* observed
from inside the program (its namespaces differ from ours, ``Seccomp: 2``, a read outside the allowed roots
fails); a test never accepts the weaker outcome just because the sandbox says it did not apply a layer.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import shutil
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llm.sandbox.api as sandbox
from llm.sandbox import STATUSES, SandboxError, SandboxResult, find_interpreter, run_many, run_program

AS_ROOT = os.geteuid() == 0

# An independent probe of what this kernel offers this user (deliberately not llm.sandbox's code).
_PROBE = textwrap.dedent(
    """
    import ctypes, json, os, struct, tempfile
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    out = {"landlock_abi": max(int(libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))), 0)}
    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    allow = ctypes.create_string_buffer(struct.pack("<HBBI", 6, 0, 0, 0x7FFF0000), 8)
    out["seccomp"] = (
        os.uname().machine in ("x86_64", "aarch64")
        and libc.prctl(38, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0
        and libc.prctl(22, ctypes.c_ulong(2), ctypes.byref(Fprog(1, ctypes.cast(allow, ctypes.c_void_p))),
                       ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0
    )
    NEWNS, NEWIPC, NEWUSER, NEWPID, NEWNET = 0x20000, 0x8000000, 0x10000000, 0x20000000, 0x40000000
    flags = NEWNET | NEWPID | NEWIPC | (0 if os.geteuid() == 0 else NEWUSER)
    out["namespaces"] = libc.unshare(ctypes.c_int(flags)) == 0
    out["tmpfs"] = False
    if out["namespaces"]:
        point = tempfile.mkdtemp()
        out["tmpfs"] = (libc.unshare(ctypes.c_int(NEWNS)) == 0
                        and libc.mount(None, b"/", None, ctypes.c_ulong(1 << 14 | 1 << 18), None) == 0
                        and libc.mount(b"tmpfs", point.encode(), b"tmpfs", ctypes.c_ulong(6), b"size=1m") == 0)
        libc.umount2(point.encode(), 2)
        os.rmdir(point)
    print(json.dumps(out))
    """
)
PLATFORM = json.loads(subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE], capture_output=True, text=True,
                                     timeout=60, check=True).stdout)


def platform_tags() -> set[str]:
    """The isolation tags this platform should produce, from the independent probe."""
    tags = {"rlimits", "process-group", "fresh-env", "workdir"} | ({"uid"} if AS_ROOT else set())
    abi = PLATFORM["landlock_abi"]
    tags |= {tag for need, tag in ((1, "landlock-fs"), (4, "landlock-net"), (6, "landlock-signal")) if abi >= need}
    if PLATFORM["seccomp"]:
        tags.add("seccomp-net")
    if PLATFORM["namespaces"]:
        tags |= {"netns", "pidns", "ipcns"} | (set() if AS_ROOT else {"userns"})
    if PLATFORM["tmpfs"]:
        tags.add("tmpfs-workdir")
    return tags


# Hostile programs that fork without bound run by default only where a fresh uid confines them (see above).
fork_bombs = pytest.mark.slow if not AS_ROOT else (lambda test: test)

FORK_20 = textwrap.dedent(
    """
    import os
    r, w = os.pipe()
    pids, failed = [], 0
    for _ in range(20):
        try:
            pid = os.fork()
        except OSError:
            failed += 1
            continue
        if pid == 0:  # each child holds a process slot until the parent closes the pipe
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        pids.append(pid)
    os.close(w)
    for pid in pids:
        os.waitpid(pid, 0)
    print(len(pids), failed)
    """
)
FORK_BOMB = "import os\nprint(os.getcwd(), flush=True)\nwhile True:\n    os.fork()\n"
FORK_BOMB_SPIN = (  # keeps forking after EAGAIN until the wall clock stops it
    "import os\nprint(os.getcwd(), flush=True)\n"
    "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
)
DETACH = textwrap.dedent(
    """
    import os, time
    print(os.getcwd(), flush=True)
    if os.fork() == 0:
        os.setsid()              # leave the program's session and process group
        if os.fork() == 0:       # and its parent: the grandchild is re-parented
            time.sleep(60)
        os._exit(0)
    {tail}
    """
)


def survivors(marker: str) -> list[int]:
    """Pids of live processes whose command line mentions ``marker`` (a sandbox's work directory)."""
    out = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as fh:
                if marker.encode() in fh.read():
                    out.append(int(path.split("/")[2]))
        except OSError:
            continue
    return out


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory any user may enter, under the system temp dir (pytest's ``tmp_path`` is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="sbxtest-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def workdir_of(result: SandboxResult) -> str:
    first = result.stdout.split("\n", 1)[0]
    assert first.startswith(tempfile.gettempdir()) and "sandbox-" in first, result
    return first


# ------------------------------------------------------------------------- the platform's layers are in force

INSIDE = textwrap.dedent(
    """
    import errno, json, os, socket
    out = {"pid": os.getpid(), "ns": {n: os.readlink(f"/proc/self/ns/{n}") for n in ("net", "pid", "ipc", "mnt")}}
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    out["seccomp"], out["no_new_privs"] = status["Seccomp"].strip(), status["NoNewPrivs"].strip()
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        out["inet_socket"] = "opened"
    except OSError as exc:
        out["inet_socket"] = errno.errorcode[exc.errno]
    st = os.statvfs(".")
    out["workdir_mb"] = st.f_blocks * st.f_frsize / 2**20
    print(json.dumps(out))
    """
)


def test_every_layer_the_platform_offers_is_reported() -> None:
    result = run_program("pass", timeout=20)
    assert result.ok and platform_tags() <= set(result.isolation), (platform_tags(), result.isolation)
    assert sandbox.platform_isolation() == frozenset(platform_tags())  # the default minimum: the same set


def test_every_layer_the_platform_offers_is_enforced_inside() -> None:
    """Observed from inside the program, not taken from the sandbox's own report."""
    result = run_program(INSIDE, timeout=20, max_disk_mb=24, read_paths=["/proc"])
    assert result.ok, result
    inside = json.loads(result.stdout)
    ours = {n: os.readlink(f"/proc/self/ns/{n}") for n in ("net", "pid", "ipc", "mnt")}
    if PLATFORM["namespaces"]:
        for name in ("net", "pid", "ipc"):
            assert inside["ns"][name] != ours[name], (name, inside)
        assert inside["pid"] == 2  # the reaper is pid 1 of the new PID namespace
    if PLATFORM["tmpfs"]:
        assert inside["ns"]["mnt"] != ours["mnt"] and abs(inside["workdir_mb"] - 24) < 1, inside
    if PLATFORM["seccomp"]:
        assert inside["seccomp"] == "2" and inside["inet_socket"] == "EACCES", inside
    if PLATFORM["landlock_abi"] >= 1:
        assert inside["no_new_privs"] == "1"
        denied = run_program("open('/proc/self/status').read()", timeout=20)  # /proc is not an allowed root
        assert denied.status == "error" and "PermissionError" in denied.stderr, denied


def _a_layer_this_platform_lacks() -> str:
    return "userns" if AS_ROOT else "uid"  # root never needs a user namespace; others never get a fresh uid


def test_below_the_minimum_isolation_nothing_runs() -> None:
    lacking = _a_layer_this_platform_lacks()
    start = time.monotonic()
    with pytest.raises(sandbox.IsolationError, match=f"{lacking} not in force") as info:
        run_program("import time\ntime.sleep(10)", timeout=20, min_isolation=["rlimits", lacking])
    assert time.monotonic() - start < 8  # refused before the interpreter started, not after the program ran
    assert "\n" not in str(info.value) and "min_isolation=None" in str(info.value)
    assert run_program("print('weak')", timeout=20, min_isolation=None).stdout == "weak\n"  # the opt-out
    with pytest.raises(ValueError, match="unknown isolation layer"):
        run_program("pass", timeout=20, min_isolation=["chroot"])


def test_minimum_isolation_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    lacking = _a_layer_this_platform_lacks()
    monkeypatch.setenv(sandbox.MIN_ISOLATION_ENV, f"rlimits,{lacking}")
    with pytest.raises(sandbox.IsolationError):
        run_program("pass", timeout=20)
    monkeypatch.setenv(sandbox.MIN_ISOLATION_ENV, "none")
    assert run_program("pass", timeout=20).ok
    assert sandbox.required_isolation("platform") == frozenset()
    monkeypatch.delenv(sandbox.MIN_ISOLATION_ENV)
    assert sandbox.required_isolation("platform") == frozenset(platform_tags())
    assert sandbox.required_isolation("platform", namespaces=False) == frozenset(platform_tags()) - {
        "userns", "netns", "pidns", "ipcns", "tmpfs-workdir"}


# ----------------------------------------------------------------------------------------------- benign proofs


@pytest.fixture(scope="module")
def nproc_binds() -> None:
    """RLIMIT_NPROC stops a benign 20-fork program at exactly the budget (the program itself counts)."""
    result = run_program(FORK_20, timeout=20, max_processes=10)
    assert result.ok, result
    assert result.stdout.split() == ["9", "11"]


@pytest.fixture(scope="module")
def memory_binds() -> None:
    """RLIMIT_AS: 50 MB fail under a 30 MB cap and succeed under 256 MB."""
    program = "x = bytearray(50 * 2**20)\nprint(len(x))"
    capped = run_program(program, timeout=20, memory_mb=30)
    assert capped.status == "memory" and not capped.ok, capped
    roomy = run_program(program, timeout=20, memory_mb=256)
    assert roomy.ok and roomy.stdout.strip() == str(50 * 2**20), roomy


@pytest.fixture(scope="module")
def wall_clock_binds() -> None:
    """The wall-clock limit stops a sleeper well before it would end."""
    start = time.monotonic()
    result = run_program("import time\ntime.sleep(30)\nprint('woke')", timeout=0.5)
    assert result.status == "timeout" and result.stdout == "", result
    assert 0.4 < result.wall_time < 5 and time.monotonic() - start < 20


def test_ok_program_output_and_isolation() -> None:
    result = run_program("import sys\nprint('hello')\nprint('warn', file=sys.stderr)", timeout=20)
    assert result.ok and result.status == "ok" and result.reason == ""
    assert (result.stdout, result.stderr, result.returncode, result.signal) == ("hello\n", "warn\n", 0, None)
    assert not result.truncated and result.wall_time > 0
    assert {"rlimits", "fresh-env", "workdir", "process-group"} <= set(result.isolation)
    assert ("uid" in result.isolation) == AS_ROOT


def test_nonzero_exit_is_error() -> None:
    result = run_program("raise ValueError('boom')", timeout=20)
    assert (result.status, result.returncode, result.ok) == ("error", 1, False)
    assert "ValueError: boom" in result.stderr and "code 1" in result.reason
    assert run_program("import sys\nsys.exit(3)", timeout=20).returncode == 3


def test_runs_as_fresh_unprivileged_identity_in_private_removed_dir() -> None:
    program = "import os\nprint(os.getcwd())\nprint(*os.getresuid(), *os.getresgid())\nopen('f.txt', 'w').write('x')"
    first, second = run_program(program, timeout=20), run_program(program, timeout=20)
    assert first.ok and second.ok, (first, second)
    cwd, ids = first.stdout.split("\n")[:2]
    assert not os.path.exists(cwd) and cwd != second.stdout.split("\n")[0]
    uids = {int(x) for x in ids.split()}
    if AS_ROOT:  # one fresh uid (== gid) per call, never root
        assert len(uids) == 1 and 0 not in uids and uids != {int(x) for x in second.stdout.split("\n")[1].split()}
    else:
        assert uids <= {os.getuid(), os.getgid()}


def test_stdin_is_closed() -> None:
    result = run_program("import sys\nprint(repr(sys.stdin.read()))", timeout=20)
    assert result.ok and result.stdout == "''\n"


def test_environment_is_fresh_without_caller_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("SANDBOX_TEST_API_KEY", secret)
    result = run_program("import json, os\nprint(json.dumps(dict(os.environ)))", timeout=20)
    assert result.ok and secret not in result.stdout + result.stderr
    env = json.loads(result.stdout)
    assert set(env) == {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "MALLOC_ARENA_MAX"}
    assert env["HOME"] == env["TMPDIR"] and "sandbox-" in env["HOME"]


def test_process_limit_counts_the_program(nproc_binds: None) -> None:
    result = run_program(FORK_20, timeout=20, max_processes=4)
    assert result.ok and result.stdout.split() == ["3", "17"], result


def test_cpu_limit_reports_timeout() -> None:
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 5:\n    pass\nprint('done')"
    result = run_program(busy, timeout=30, cpu_seconds=1)
    assert result.status == "timeout" and result.signal == signal.SIGXCPU and "CPU" in result.reason, result
    assert 0.8 <= result.cpu_time < 3


def test_file_size_limit() -> None:
    result = run_program("open('big', 'wb').write(b'x' * (2 * 2**20))", timeout=20, max_file_mb=1)
    assert result.status == "error" and "File too large" in result.stderr, result
    assert run_program("open('small', 'wb').write(b'x' * 2**19)", timeout=20, max_file_mb=1).ok


def test_total_disk_cap_follows_isolation() -> None:
    program = (
        "import os\nfor i in range(3):\n    open(f'f{i}', 'wb').write(os.urandom(8 * 2**20))\n"
        "print(sorted(os.listdir('.')))"
    )
    result = run_program(program, timeout=20, max_disk_mb=16, max_file_mb=10)
    # A size-capped tmpfs needs a mount namespace (root or a user namespace): where the platform has one it must
    # be in force and hold, whatever the sandbox reports.
    assert ("tmpfs-workdir" in result.isolation) == PLATFORM["tmpfs"], result.isolation
    if PLATFORM["tmpfs"]:
        assert result.status == "error" and "No space left on device" in result.stderr, result
    else:
        assert result.ok, result
    roomy = run_program(program, timeout=20, max_disk_mb=64, max_file_mb=10)
    assert roomy.ok and roomy.stdout.strip() == "['f0', 'f1', 'f2', 'main.py']", roomy


def test_output_cap_kills_and_truncates() -> None:
    result = run_program("print('x' * 10000)", timeout=20, max_output_bytes=1000)
    assert result.status == "killed" and result.truncated and result.stdout == "x" * 1000, result
    assert "stdout" in result.reason
    fits = run_program("print('x' * 999)", timeout=20, max_output_bytes=1000)
    assert fits.ok and not fits.truncated and fits.stdout == "x" * 999 + "\n"


@settings(max_examples=5)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_stdout_round_trips_any_text(text: str) -> None:
    result = run_program(f"import sys\nsys.stdout.write({text!r})", timeout=20)
    assert result.ok and result.stdout == text


@given(
    outcome=st.sampled_from(["exited", "timeout", "aborted", "lost"]),
    returncode=st.one_of(st.none(), st.integers(0, 255)),
    signum=st.one_of(st.none(), st.sampled_from([int(s) for s in signal.valid_signals() if 0 < s < 32])),
    cpu=st.floats(0, 100),
    stderr=st.sampled_from([b"", b"Traceback\nMemoryError\n", b"ValueError: x\n"]),
    overflow=st.sampled_from(["", "stdout", "stderr"]),
)
def test_classification_invariants(
    outcome: str, returncode: int | None, signum: int | None, cpu: float, stderr: bytes, overflow: str
) -> None:
    status, reason = sandbox._classify(outcome, returncode, signum, cpu, 5, stderr, overflow, 3.0)
    assert status in STATUSES
    clean_exit = outcome == "exited" and returncode == 0 and signum is None and not overflow
    assert (status == "ok") == clean_exit and (reason == "") == clean_exit
    if overflow:
        assert status == "killed"
    elif outcome == "timeout":
        assert status == "timeout"
    assert "\n" not in reason


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"memory_mb": 4}, "memory_mb"),
        ({"max_processes": 0}, "max_processes"),
        ({"cpu_seconds": 0}, "cpu_seconds"),
        ({"max_output_bytes": -1}, "max_output_bytes"),
        ({"max_disk_mb": 0}, "max_disk_mb"),
    ],
)
def test_bad_limits_raise_one_line_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        run_program("pass", **kwargs)
    assert "\n" not in str(info.value)


def test_unusable_interpreter_is_a_sandbox_error() -> None:
    with pytest.raises(SandboxError, match="setup failed") as info:
        run_program("pass", timeout=20, interpreter="/nonexistent/python3")
    assert "\n" not in str(info.value)


def test_find_interpreter_is_executable_by_anyone() -> None:
    path = find_interpreter()
    assert os.access(path, os.X_OK) and sandbox._world_executable(path)


def test_direct_start_without_fork_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox._ZYGOTE, "spawn", lambda cfg, fds: None)
    ok = run_program("print('direct')", timeout=20)
    assert ok.ok and ok.stdout == "direct\n" and "rlimits" in ok.isolation
    slow = run_program("import time\ntime.sleep(30)", timeout=0.5)
    assert slow.status == "timeout" and slow.wall_time < 5


def test_fork_server_is_restarted_after_dying() -> None:
    assert run_program("pass", timeout=20).ok
    proc = sandbox._ZYGOTE._proc
    assert proc is not None and proc.poll() is None
    proc.kill()
    proc.wait()
    again = run_program("print('again')", timeout=20)
    assert again.ok and again.stdout == "again\n"
    assert sandbox._ZYGOTE._proc is not None and sandbox._ZYGOTE._proc.pid != proc.pid


def test_run_many_keeps_order_and_checks_workers() -> None:
    programs = [f"print({i})" if i % 3 else f"raise SystemExit({i + 1})" for i in range(7)]
    results = run_many(programs, workers=2, timeout=20, memory_mb=256)
    assert [r.ok for r in results] == [bool(i % 3) for i in range(7)]
    assert [r.stdout.strip() for r in results if r.ok] == [str(i) for i in range(7) if i % 3]
    assert [r.returncode for r in results if not r.ok] == [1, 4, 7]
    assert run_many([], workers=2) == []
    with pytest.raises(ValueError, match="workers"):
        run_many(["pass"], workers=0)


# ----------------------------------------------------------------------------------- hostile programs, contained


def test_infinite_loop(wall_clock_binds: None) -> None:
    result = run_program("while True:\n    pass", timeout=1)
    assert result.status == "timeout" and not result.ok


@fork_bombs
@pytest.mark.parametrize("program", [FORK_BOMB, FORK_BOMB_SPIN], ids=["fork-bomb", "fork-bomb-spinning"])
def test_fork_bomb(nproc_binds: None, wall_clock_binds: None, program: str) -> None:
    result = run_program(program, timeout=1.5, max_processes=8)
    assert not result.ok and result.status in {"error", "timeout"}, result
    assert survivors(workdir_of(result)) == []
    assert run_program("print('alive')", timeout=20).stdout == "alive\n"


def test_memory_bomb(memory_binds: None, wall_clock_binds: None) -> None:
    result = run_program("x = []\nwhile True:\n    x.append(bytearray(2**24))", timeout=10, memory_mb=128)
    assert result.status == "memory" and not result.ok, result


def test_deep_recursion(memory_binds: None, wall_clock_binds: None) -> None:
    default = run_program("def f(n):\n    return f(n + 1) + 1\nf(0)", timeout=10)
    assert default.status == "error" and "RecursionError" in default.stderr
    unbounded = "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1) + 1\nf(0)"
    result = run_program(unbounded, timeout=1.5, memory_mb=48)
    assert not result.ok and result.status in {"error", "memory", "killed", "timeout"}, result


def test_huge_output(wall_clock_binds: None) -> None:
    result = run_program("while True:\n    print('x' * 10000)", timeout=5, max_output_bytes=1 << 16)
    assert result.status == "killed" and result.truncated and len(result.stdout) == 1 << 16, result
    assert result.wall_time < 5


def test_cannot_write_or_delete_outside_its_directory(world_dir: Path) -> None:
    marker = Path(tempfile.gettempdir()) / f"sandbox-escape-{uuid.uuid4().hex}"
    victim_dir = world_dir / "victim"
    victim_dir.mkdir()
    victim = victim_dir / "keep.txt"
    victim.write_text("keep")
    for path, mode in ((world_dir, 0o777), (victim_dir, 0o777), (victim, 0o666)):
        path.chmod(mode)  # world-writable: only the sandbox stands in the way
    attempts = {
        "write-tmp": f"open({str(marker)!r}, 'w').write('escaped')",
        "delete": f"import os\nos.remove({str(victim)!r})",
        "overwrite": f"open({str(victim)!r}, 'w').write('gone')",
        "create": f"open({str(victim_dir / 'new.txt')!r}, 'w').write('new')",
    }
    results = run_many(list(attempts.values()), workers=2, timeout=20)
    for name, result in zip(attempts, results):
        assert result.status == "error" and "PermissionError" in result.stderr, (name, result)
    assert not marker.exists()
    assert victim.read_text() == "keep" and sorted(os.listdir(victim_dir)) == ["keep.txt"]


def test_reads_outside_system_dirs_follow_isolation(world_dir: Path) -> None:
    secret = world_dir / "notes.txt"
    secret.write_text("private")
    secret.chmod(0o644)
    result = run_program(f"print(open({str(secret)!r}).read())", timeout=20)
    # Reads are confined only where Landlock exists (see docs/sandbox.md): there it must be on and hold.
    assert ("landlock-fs" in result.isolation) == (PLATFORM["landlock_abi"] >= 1), result.isolation
    if PLATFORM["landlock_abi"] >= 1:
        assert result.status == "error" and "PermissionError" in result.stderr and "private" not in result.stdout
    else:
        assert result.ok and result.stdout == "private\n"
    allowed = run_program(f"print(open({str(secret)!r}).read())", timeout=20, read_paths=[str(world_dir)])
    assert allowed.ok and allowed.stdout == "private\n"


def test_system_v_ipc_objects_stay_inside() -> None:
    key = 0x5A000000 + os.getpid() % 0x100000
    program = f"import ctypes\nshmid = ctypes.CDLL(None).shmget({key}, 4096, 0o1600)\nprint(shmid)\nassert shmid >= 0"
    result = run_program(program, timeout=20)
    assert result.ok, result
    with open("/proc/sysvipc/shm") as fh:
        leaked = [line.split() for line in fh.readlines()[1:] if int(line.split()[0]) == key]
    if leaked:  # only possible without an IPC namespace: remove the segment again
        import ctypes

        ctypes.CDLL(None).shmctl(int(leaked[0][1]), 0, None)  # IPC_RMID
    assert bool(leaked) == ("ipcns" not in result.isolation) == (not PLATFORM["namespaces"])


def test_network_is_blocked() -> None:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with tcp, udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(4)
        udp.bind(("127.0.0.1", 0))
        tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]
        programs = [
            f"import socket\ns = socket.create_connection(('127.0.0.1', {tcp_port}), timeout=2)\ns.sendall(b'leak')",
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"s.sendto(b'leak', ('127.0.0.1', {udp_port}))",
        ]
        results = run_many(programs, workers=2, timeout=20)
        for result in results:
            assert result.status == "error" and not result.ok, result
        tcp.settimeout(0.2)
        udp.settimeout(0.2)
        with pytest.raises(socket.timeout):
            tcp.accept()
        with pytest.raises(socket.timeout):
            udp.recvfrom(16)
    assert {"netns", "seccomp-net", "landlock-net"} & set(results[0].isolation)
    assert {"netns", "seccomp-net", "landlock-net"} & platform_tags() <= set(results[0].isolation)


@pytest.mark.parametrize("tail", ["time.sleep(60)", "print('bye')"], ids=["then-hang", "then-exit"])
def test_detached_session_does_not_outlive_the_call(wall_clock_binds: None, tail: str) -> None:
    result = run_program(DETACH.format(tail=tail), timeout=1.5)
    assert result.status == ("timeout" if "sleep" in tail else "ok"), result
    assert survivors(workdir_of(result)) == []


def test_killing_its_parent_or_the_caller_fails() -> None:
    programs = [
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)",
    ]
    parent, caller = run_many(programs, workers=2, timeout=20)
    assert parent.status == "error" and "PermissionError" in parent.stderr, parent
    assert caller.status == "error" and ("PermissionError" in caller.stderr or "ProcessLookupError" in caller.stderr)
    assert run_program("print('alive')", timeout=20).ok


# ------------------------------------------------------------------------------------ as an ordinary (non-root) user

ORDINARY_CHECKS = textwrap.dedent(
    """
    import json, os, sys, glob
    from llm.sandbox import run_program

    def survivors(marker):
        found = []
        for path in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                if marker.encode() in open(path, "rb").read():
                    found.append(path)
            except OSError:
                pass
        return found

    out = {"uid": os.getuid()}
    locked = run_program(LOCKED, timeout=20, namespaces=False)
    out["locked-dir-removed"] = [locked.status, os.path.exists(locked.stdout.strip())]
    # Same uid, no PID namespace: only Landlock's signal scope (ABI 6) stops a signal to a process outside.
    sig = run_program("import os\\nos.kill(" + str(os.getpid()) + ", 0)", timeout=20, namespaces=False)
    out["signal-outside"] = [sig.status, "PermissionError" in sig.stderr, "landlock-signal" in sig.isolation]
    for ns in (True, False):
        proof = run_program(FORK_20, timeout=20, max_processes=10, namespaces=ns)
        out[f"proof-{ns}"] = [proof.status, proof.stdout.split()]
        if proof.stdout.split() != ["9", "11"] or not RUN_BOMBS:
            continue  # RLIMIT_NPROC did not bind (or bombs are opt-in here): never run the bombs
        for name, bomb in (("bomb", FORK_BOMB), ("spin", FORK_BOMB_SPIN)):
            r = run_program(bomb, timeout=1.5, max_processes=8, namespaces=ns)
            out[f"{name}-{ns}"] = [r.status, survivors(r.stdout.split(chr(10))[0]), list(r.isolation)]
    print(json.dumps(out))
    """
)


def _ordinary_checks_source(run_bombs: bool) -> str:
    locked = "import os\nos.makedirs('d/e')\nopen('d/e/f', 'w').close()\nos.chmod('d', 0)\nprint(os.getcwd())"
    consts = f"FORK_20 = {FORK_20!r}\nFORK_BOMB = {FORK_BOMB!r}\nFORK_BOMB_SPIN = {FORK_BOMB_SPIN!r}\n"
    consts += f"LOCKED = {locked!r}\nRUN_BOMBS = {run_bombs!r}\n"
    anchor = "from llm.sandbox import run_program\n"
    return ORDINARY_CHECKS.replace(anchor, anchor + consts)


def _runslow(config: pytest.Config) -> bool:
    return bool(config.getoption("--runslow")) or os.environ.get("PERSUASION_RUNSLOW") == "1"


def _world_readable_copy_of_the_sandbox() -> Path:
    """The ``llm.sandbox`` package (and ``llm/__init__.py``) copied into a fresh world-readable folder under a
    world-traversable temp dir; returns the folder to put on ``sys.path``.

    The checkout may sit in a private (0700) folder that a fresh uid cannot read; the package needs nothing but the
    standard library, so a copy works the same way.
    """
    base = tempfile.gettempdir()
    if not sandbox._world_traversable(base):
        base = "/tmp"
    if not sandbox._world_traversable(base):
        pytest.skip(f"no temp folder that other users can enter ({tempfile.gettempdir()}, /tmp)")
    folder = Path(tempfile.mkdtemp(prefix="sbxmod-", dir=base))
    folder.chmod(0o755)
    source = Path(sandbox.__file__).parent
    for relative in ("llm/__init__.py", *(f"llm/sandbox/{f.name}" for f in source.glob("*.py"))):
        copy = folder / relative
        copy.parent.mkdir(mode=0o755, exist_ok=True)
        copy.parent.chmod(0o755)
        shutil.copyfile(source.parent / relative.removeprefix("llm/"), copy)
        copy.chmod(0o644)
    return folder


def test_as_ordinary_user_nproc_binds_and_fork_bombs_are_contained(
    nproc_binds: None, request: pytest.FixtureRequest
) -> None:
    # As root the bombs run under a helper with a fresh uid and its own RLIMIT_NPROC of 64: confined beyond doubt.
    # As an ordinary user they would share the caller's uid, so they are opt-in there (--runslow).
    run_bombs = AS_ROOT or _runslow(request.config)
    source = _ordinary_checks_source(run_bombs)
    if not AS_ROOT:  # this process already is an ordinary user
        scope: dict = {}
        from contextlib import redirect_stdout
        from io import StringIO

        buf = StringIO()
        with redirect_stdout(buf):
            exec(compile(source, "ordinary_checks", "exec"), scope)  # noqa: S102 - trusted test code
        report = json.loads(buf.getvalue())
    else:
        # A helper process under a fresh unprivileged uid imports a world-readable copy of llm.sandbox from sys.path
        # (the checkout or the venv may live in a private folder, so it also runs on find_interpreter()) and runs
        # the checks; RLIMIT_NPROC 64 on the helper is a second belt should the sandbox's own limit fail.
        try:
            interpreter = find_interpreter()
        except SandboxError as exc:
            pytest.skip(f"no Python interpreter that an unprivileged uid may execute: {exc}")
        module = _world_readable_copy_of_the_sandbox()
        uid = sandbox.UID_BASE - 1 - os.getpid() % 100_000
        loader = textwrap.dedent(
            f"""
            import resource, sys
            resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
            sys.path.insert(0, {str(module)!r})
            """
        )
        try:
            helper = subprocess.run(
                [interpreter, "-I", "-S", "-c", loader + source],
                user=uid, group=uid, extra_groups=[], cwd="/", capture_output=True, text=True, timeout=50,
                env={"PATH": "/usr/bin:/bin", "HOME": "/", "LC_ALL": "C.UTF-8"},
            )
        finally:
            shutil.rmtree(module, ignore_errors=True)
        assert helper.returncode == 0, helper.stderr[-2000:]
        report = json.loads(helper.stdout)
        assert report["uid"] == uid
    assert report["locked-dir-removed"] == ["ok", False], report
    status, denied, tagged = report["signal-outside"]
    assert tagged == denied == (PLATFORM["landlock_abi"] >= 6), report
    assert status == ("error" if denied else "ok"), report
    for ns in (True, False):
        assert report[f"proof-{ns}"] == ["ok", ["9", "11"]], report
        if not run_bombs:
            assert f"bomb-{ns}" not in report
            continue
        for name in ("bomb", "spin"):
            status, alive, isolation = report[f"{name}-{ns}"]
            assert status in {"error", "timeout"} and alive == [], report
            assert "uid" not in isolation and "rlimits" in isolation
            if not ns:
                assert not {"userns", "netns", "pidns"} & set(isolation)
