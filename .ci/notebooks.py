"""Executes every notebook in notebooks/ with nbclient (CI); fails on the first error."""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

root = Path(__file__).resolve().parents[1] / "notebooks"
books = sorted(root.glob("*.ipynb"))
if not books:
    sys.exit("no notebooks found")
for path in books:
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(root)}}).execute()
    print(f"{path.name}: {len(book.cells)} cells executed")
