# A warm interpreter's start (see interpreter.rs), run as `python … -c BOOT LIMITS MODULE…`
# inside a sandbox started ahead of its run: limits first, then the skill's heavy modules, then
# it waits on stdin for the one run it serves (JSON: the run's limits, env, args, stdin) and runs
# /skill/main.py in this same process as a cold start would. Never reused: it ends with the run.
import json
import os
import resource
import runpy
import sys


def _limit(spec):
    for res, soft, hard in spec:
        _, cur = resource.getrlimit(res)
        if cur != resource.RLIM_INFINITY:
            hard = min(hard, cur)
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
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    if not chunks:
        # The sandbox was given up without a run.
        os._exit(125)
    return json.loads(b"".join(chunks))


def _stdin(data):
    if data:
        fd = os.memfd_create("stdin")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    else:
        fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)


def _main():
    _limit(json.loads(sys.argv[1]))
    _preload(sys.argv[2:])
    run = _wait()
    _limit(run["limits"])
    os.environ.update(run["env"])
    _stdin(run["stdin"].encode("latin-1"))
    sys.argv = ["/skill/main.py", *run["args"]]
    try:
        runpy.run_path("/skill/main.py", run_name="__main__")
    except SystemExit:
        raise
    except BaseException as e:
        # Reported as a cold start reports it: the traceback from main.py on, exit code 1.
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "/skill/main.py":
            tb = tb.tb_next
        # The hook prints the exception's own traceback, so it is cut there.
        e.__traceback__ = tb
        sys.excepthook(type(e), e, tb)
        sys.exit(1)


_main()
