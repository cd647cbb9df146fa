# A warm interpreter's start (see interpreter.rs), run as `python … -c BOOT LIMITS MODULE…`
# inside a sandbox started ahead of its run: limits first, then the skill's heavy modules, then
# it waits on stdin for the one run it serves (its limits, variables, arguments and stdin) and
# runs /skill/main.py in this same process as a cold start would: as `__main__`, in a fresh
# module. Never reused: it ends with the run. Only built-in modules (gc, posix, sys) and
# resource are imported here, so that a run imports what a cold start would, and no more is paid
# ahead.
import gc
import posix
import resource
import sys

ENTRY = "/skill/main.py"


def _limit(spec):
    # "resource soft hard,…"; never above the current hard limit.
    for item in spec.split(","):
        if item:
            res, soft, hard = (int(x) for x in item.split())
            current = resource.getrlimit(res)[1]
            if current != resource.RLIM_INFINITY:
                hard = min(hard, current)
            resource.setrlimit(res, (min(soft, hard), hard))


def _preload(names):
    for name in names:
        try:
            __import__(name)
        except BaseException:
            # The script's own import fails the same way, and reports it.
            pass


def _wait():
    chunks = []
    while True:
        chunk = posix.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    if not chunks:
        # The sandbox was given up without a run.
        posix._exit(125)
    return b"".join(chunks)


def _parse(data):
    # limits \0 count \0 (NAME=value \0)… count \0 (argument \0)… stdin
    pos = 0

    def field():
        nonlocal pos
        end = data.index(b"\0", pos)
        text = data[pos:end].decode("utf-8", "surrogateescape")
        pos = end + 1
        return text

    limits = field()
    env = [field().split("=", 1) for _ in range(int(field()))]
    args = [field() for _ in range(int(field()))]
    return limits, env, args, data[pos:]


def _setenv(pairs):
    os = sys.modules.get("os")
    for key, value in pairs:
        if os is not None:
            os.environ[key] = value
        else:
            posix.putenv(key, value)
        # What `os.environ` starts from when the script imports os.
        posix.environ[key.encode()] = value.encode("utf-8", "surrogateescape")


def _stdin(data):
    if data:
        fd = posix.memfd_create("stdin")
        view = memoryview(data)
        while view:
            view = view[posix.write(fd, view):]
        posix.lseek(fd, 0, 0)
    else:
        fd = posix.open("/dev/null", posix.O_RDONLY)
    posix.dup2(fd, 0)
    posix.close(fd)


def _main():
    _limit(sys.argv[1])
    _preload(sys.argv[2:])
    # What was imported ahead lives until the exit anyway: the cyclic collector leaves it out,
    # during the run and at the exit (with pandas loaded, the exit costs ~25 ms instead of ~170).
    gc.freeze()
    limits, env, args, stdin = _parse(_wait())
    _limit(limits)
    _setenv(env)
    _stdin(stdin)
    sys.argv = [ENTRY, *args]
    main = type(sys)("__main__")
    main.__file__ = ENTRY
    main.__cached__ = None
    external = sys.modules["_frozen_importlib_external"]
    main.__loader__ = external.SourceFileLoader("__main__", ENTRY)
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    try:
        with open(ENTRY, "rb") as f:
            code = compile(f.read(), ENTRY, "exec")
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as e:
        # Reported as a cold start reports it: the traceback from main.py on, exit code 1.
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != ENTRY:
            tb = tb.tb_next
        # The hook prints the exception's own traceback, so it is cut there.
        e.__traceback__ = tb
        sys.excepthook(type(e), e, tb)
        sys.exit(1)


_main()
