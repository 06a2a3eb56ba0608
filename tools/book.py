"""Execute every notebook and write the course book: one HTML page per notebook,
figures included, and an index with each notebook's run time.

    python tools/book.py                  # full mode, all notebooks -> build/html/   (make html)
    TP_QUICK=1 python tools/book.py       # quick mode
    python tools/book.py --only 01        # notebooks whose name starts with 01
    python tools/book.py --src DIR --out OUT   # the notebooks of another folder (the tests do this)

Notebooks run in their own folder (``notebooks/``, as in Jupyter), each on a
fresh kernel; the course is installed (``pip install -e .``), so ``import utils``
works from there. A notebook that fails (an error, a timeout, a dead kernel)
still gets a page showing what was executed; the index marks it and the command
exits with status 1.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks


def title_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "untitled"


def execute(path: Path, timeout: int = 2000):
    """Run a notebook on a fresh kernel in its folder; return (notebook, seconds, error or None)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        lines = ANSI.sub("", str(err)).strip().splitlines() or [type(err).__name__]
        error = lines[-1][:300]
    return nb, time.perf_counter() - start, error


def to_html(nb) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return body


def build(only: str = "", dest: Path = ROOT / "build" / "html", src: Path = ROOT / "notebooks") -> list[dict]:
    """Execute the notebooks of ``src`` whose name starts with ``only`` and write their pages
    and ``index.html`` into ``dest``; return one entry per notebook (name, title, page,
    seconds, error or None)."""
    from utils import config

    paths = sorted(Path(src).glob(f"{only}*.ipynb"))
    if not paths:
        return []
    dest.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in paths:
        print(f"executing {path.name} ({config.mode()} mode) ...", flush=True)
        nb, seconds, error = execute(path)
        page = path.with_suffix(".html").name
        (dest / page).write_text(to_html(nb), encoding="utf-8")
        entries.append({"name": path.name, "title": title_of(nb), "page": page, "seconds": seconds,
                        "error": error})
        print(f"  {seconds:.0f} s" + (f", FAILED: {error}" if error else ""))
    rows = "\n".join(
        f"<tr><td><a href='{e['page']}'>{html.escape(e['title'])}</a></td><td>{e['seconds']:.0f} s</td>"
        f"<td>{'failed: ' + html.escape(e['error']) if e['error'] else 'ok'}</td></tr>" for e in entries)
    (dest / "index.html").write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Deep learning, hands on: the course book</title>
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto}}td,th{{padding:.3em 1em}}</style></head>
<body><h1>Deep learning, hands on</h1>
<p>Every notebook executed top to bottom ({html.escape(config.mode())} mode, data set {config.dataset()}).</p>
<table><tr><th>notebook</th><th>run time</th><th>status</th></tr>
{rows}
</table></body></html>
""", encoding="utf-8")
    return entries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Execute the notebooks and write build/html/.")
    parser.add_argument("--only", default="", help="only notebooks whose name starts with this")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "html")
    parser.add_argument("--src", type=Path, default=ROOT / "notebooks",
                        help="folder of the notebooks to execute (default: notebooks/)")
    args = parser.parse_args(argv)
    entries = build(args.only, args.out, args.src)
    if not entries:
        print(f"no notebook in {args.src} matches {args.only!r}", file=sys.stderr)
        return 2
    print(f"wrote {len(entries)} page(s) and index.html to {args.out}")
    return 1 if any(e["error"] for e in entries) else 0


if __name__ == "__main__":
    sys.exit(main())
