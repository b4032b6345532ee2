"""The program `evaluate.code_tests` runs in a child process to test an answer's code: NOT imported by the kit.

`python -I -S sandbox_runner.py SOLUTION CASES` with the working directory a fresh temp dir. Before the answer's
code runs it: sets POSIX resource limits (CPU seconds, address space, file size, no new processes), and installs
an audit hook (PEP 578) that refuses sockets, subprocesses, os.system / exec / spawn / fork, ctypes, and any
`open` outside the temp dir except reading the standard library. Each case runs under a SIGALRM timeout (POSIX).
The last stdout line is `RESULT <nonce> <json list of {"passed", "detail"}>`; the nonce comes in through the
environment and is removed from it before the answer's code runs.
"""
import json
import math
import os
import sys
import sysconfig

NONCE = os.environ.pop("SANDBOX_NONCE", "")
CASE_SECONDS = int(os.environ.pop("SANDBOX_CASE_SECONDS", "2"))
HERE = os.path.realpath(os.getcwd())
STDLIB = tuple(os.path.realpath(p) for p in {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")} if p)
DENIED_EVENTS = ("socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
                 "os.forkpty", "os.kill", "os.killpg", "ctypes.", "os.remove", "os.rename", "os.rmdir", "os.unlink",
                 "shutil.", "os.chmod", "os.chown", "os.link", "os.symlink", "os.truncate", "os.putenv",
                 "os.unsetenv", "webbrowser.", "urllib.", "http.", "ftplib.", "smtplib.", "winreg.", "_winapi.")
DENIED_MODULES = {"ctypes", "_ctypes", "socket", "_socket", "subprocess", "_posixsubprocess", "multiprocessing"}


def _limit_resources():
    try:
        import resource
    except ImportError:  # Windows: the audit hook and the parent's timeout still apply
        return
    for name, value in (("RLIMIT_CPU", CASE_SECONDS * 8), ("RLIMIT_AS", 1 << 30), ("RLIMIT_FSIZE", 1 << 20),
                        ("RLIMIT_NPROC", 0), ("RLIMIT_CORE", 0)):
        if hasattr(resource, name):
            try:
                resource.setrlimit(getattr(resource, name), (value, value))
            except (ValueError, OSError):
                pass


def _inside(path, roots):
    return path == roots or any(path == root or path.startswith(root + os.sep) for root in roots)


def _hook(event, args):
    if event.startswith(DENIED_EVENTS):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "import" and args and str(args[0]).split(".")[0] in DENIED_MODULES:
        raise PermissionError(f"sandbox: import {args[0]} is not allowed")
    if event in ("open", "os.listdir", "os.scandir", "os.chdir", "os.mkdir") and args:
        target = args[0]
        if isinstance(target, int):  # an already open file descriptor
            return
        path = os.path.realpath(os.fsdecode(target)) if target is not None else HERE
        writing = event == "open" and len(args) > 1 and any(m in str(args[1] or "") for m in "wax+")
        if _inside(path, (HERE,)) or (not writing and event == "open" and _inside(path, STDLIB)):
            return
        raise PermissionError(f"sandbox: {event} {path} is outside the sandbox")


def _timeout(_signum, _frame):
    raise TimeoutError(f"took longer than {CASE_SECONDS} s")


def _same(got, expected):
    if isinstance(expected, float) or isinstance(got, float):
        try:
            return math.isclose(float(got), float(expected), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, list) and isinstance(got, tuple):
        got = list(got)
    return got == expected


def main():
    solution_file, cases_file, function = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(solution_file, encoding="utf-8") as handle:
        source = handle.read()
    with open(cases_file, encoding="utf-8") as handle:
        cases = json.load(handle)
    import signal
    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        signal.signal(signal.SIGALRM, _timeout)
    _limit_resources()
    sys.addaudithook(_hook)
    results = []
    namespace = {"__name__": "solution"}
    try:
        if alarm:
            signal.alarm(CASE_SECONDS)
        exec(compile(source, "solution.py", "exec"), namespace)
        load_error = None
    except BaseException as exc:  # the answer's code: anything may be raised
        load_error = f"{type(exc).__name__}: {exc}"
    finally:
        if alarm:
            signal.alarm(0)
    functions = [v for k, v in namespace.items() if callable(v) and not k.startswith("__")
                 and getattr(v, "__module__", None) == "solution"]
    target = namespace.get(function) if callable(namespace.get(function)) else (
        functions[0] if len(functions) == 1 else None)
    for case in cases:
        if results and results[-1]["detail"].startswith("TimeoutError"):
            load_error = "not run: an earlier case timed out"
        if load_error or target is None:
            results.append({"passed": False, "detail": load_error or f"no function {function} defined"})
            continue
        try:
            if alarm:
                signal.alarm(CASE_SECONDS)
            got = target(*case["args"])
            passed = _same(got, case["expected"])
            detail = "ok" if passed else f"returned {got!r:.80}, want {case['expected']!r}"
        except BaseException as exc:  # noqa: BLE001 - a failing case, whatever the code raised
            passed, detail = False, f"{type(exc).__name__}: {str(exc)[:120]}"
        finally:
            if alarm:
                signal.alarm(0)
        results.append({"passed": passed, "detail": detail})
    sys.stdout.write(f"\nRESULT {NONCE} {json.dumps(results)}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
