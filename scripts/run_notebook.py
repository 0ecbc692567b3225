"""Execute one notebook headless with nbclient, stopping at the first failing cell.

Usage: run_notebook.py <in.ipynb> <out.ipynb> <kernel> <timeout_s>
Writes the executed (or partially executed) notebook to <out.ipynb> and prints one JSON line on stdout:
{"ok": bool, "failed_cell": int | null, "error": str | null}. The cell index counts all cells from 0.
Driven by src/tools/notebooks.ts; not meant to be called by hand.
"""
import json
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def main() -> int:
    src, out, kernel, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}},
    )
    result = {"ok": True, "failed_cell": None, "error": None}
    current = {"index": None}

    def on_cell_start(cell, cell_index, **kwargs):
        current["index"] = cell_index

    client.on_cell_start = on_cell_start
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        result = {"ok": False, "failed_cell": current["index"], "error": str(err)[-4000:]}
    nbformat.write(nb, out)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
