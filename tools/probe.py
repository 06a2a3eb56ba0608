"""What runs inside the grader's sandbox (tools/sandbox.py): the submission, then the probe.

    python probe.py IO_DIR CELL_TIMEOUT TIMEOUT SERVE_TIMEOUT

Runs the code cells of ``IO_DIR/in.ipynb`` in order on a fresh kernel, errors allowed, a cell
interrupted after CELL_TIMEOUT seconds, no cell started after TIMEOUT; writes the executed
notebook (``executed.ipynb``) and what ran (``status.json``), then makes the kernel answer the
grader's calls (:func:`serve`, over the pipes ``IO_DIR/to_kernel`` and ``IO_DIR/from_kernel``)
for at most SERVE_TIMEOUT seconds. Everything here is the student's to tamper with: the grader
reads these files and that pipe as data, and decides nothing from them that the judge does not
check (tools/grade.py).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

KILL_GRACE = 6  # seconds past a cell's limit before a kernel that ignored the interrupt is killed
HERE = os.path.dirname(os.path.abspath(__file__))
SERVE = ('__import__("sys").path.insert(0, {here!r})\n'
         '__import__("probe").serve(get_ipython().user_ns, {io!r})')


def serve(namespace: dict, io: str) -> None:
    """Answer the grader's calls of the functions defined in ``namespace`` (in the kernel)."""
    import wire

    rfd = os.open(os.path.join(io, "to_kernel"), os.O_RDONLY)
    wfd = os.open(os.path.join(io, "from_kernel"), os.O_WRONLY)
    endpoint = wire.Endpoint(rfd, wfd, resolve=lambda target: resolve(namespace, target))
    endpoint.serve(timeout=3600)


def resolve(namespace: dict, target: dict):
    """The function a call names: the student's ``name``, or, with ``probe``, that probe of
    utils.checks applied to it (on the CPU), which hands back data only."""
    import functools

    fn = namespace.get(str(target.get("name")))
    probe = target.get("probe")
    if fn is None or probe is None:
        return fn
    from utils import checks

    if not (isinstance(probe, str) and probe.startswith("probe_") and hasattr(checks, probe)):
        return None
    return functools.partial(getattr(checks, probe), fn, "cpu")


def where(nb, index: int) -> str:
    first = next((line.strip() for line in nb.cells[index].source.splitlines() if line.strip()), "")
    return f"cell {index + 1} (`{first[:60]}`)"


def run(io: Path, cell_timeout: int, timeout: int, serve_timeout: int) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.read(io / "in.ipynb", as_version=4)
    work = Path(os.environ.get("HOME", "/tmp")) / "work"
    work.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
                            timeout=cell_timeout, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(work)}})
    deadline = time.monotonic() + timeout
    status, stopped = {}, None

    def save():
        nbformat.write(nb, io / "executed.ipynb")
        (io / "status.json").write_text(json.dumps({"status": status, "stopped": stopped}))

    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            left = deadline - time.monotonic()
            if left <= 1:
                stopped = f"the notebook's time limit ({timeout} s) was reached before {where(nb, index)}"
                break
            client.timeout = limit = int(min(cell_timeout, left))
            start = time.monotonic()
            # a cell that ignores the interrupt sent at its time limit: its kernel is killed, after a
            # grace long enough for a loaded machine to deliver the interrupt and its reply
            process = getattr(client.km.provisioner, "process", None)
            killer = threading.Timer(limit + KILL_GRACE, lambda p=process: p is not None and p.poll() is None
                                     and p.kill())
            killer.start()
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                if time.monotonic() - start >= limit - 0.5:  # killed because it would not stop
                    stopped = (f"{where(nb, index)} ran past the time limit of {limit} s and would not stop "
                               "when interrupted (a loop that ignores KeyboardInterrupt?)")
                    status[index] = "timeout"
                else:
                    stopped = f"the kernel died while running {where(nb, index)} (out of memory, or an exit?)"
                break
            except Exception as err:  # a cell that would not stop, or nbclient itself failed
                late = time.monotonic() - start >= limit - 0.5
                stopped = (f"{where(nb, index)} ran past the time limit of {limit} s and would not stop "
                           "when interrupted" if late else f"{where(nb, index)} could not be run "
                           f"({type(err).__name__}: {str(err)[:200]})")
                status[index] = "timeout" if late else "ran"
                break
            finally:
                killer.cancel()
            status[index] = "timeout" if time.monotonic() - start >= limit - 0.5 else "ran"
        save()
        (io / "ready").write_text("")
        if stopped is None and serve_timeout > 0:
            client.timeout = serve_timeout
            cell = nbformat.v4.new_code_cell(SERVE.format(here=HERE, io=str(io)))
            try:
                client.execute_cell(cell, len(nb.cells))
            except Exception:  # the grader reads what it got; a dead kernel answers nothing
                pass


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
