"""What a search of the labelling pool costs (``GET /api/search``), as the pool grows.

Creates a project of ``--texts`` texts (the AG News texts of the data folder, repeated with a
number appended until there are enough) and times :func:`peftal.label.search.search` for a
keyword query, a regular expression, the filters alone and a word found nowhere; best of 3.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/label_search.py --texts 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=100_000)
    args = parser.parse_args()

    from peftal.label import LabelSettings, create
    from peftal.label.search import Query, search

    folder = Path(os.environ.get("PEFTAL_DATA_DIR", "data")) / "ag_news"
    texts = [json.loads(line)["text"] for part in ("train", "test")
             for line in (folder / f"{part}.jsonl").read_text(encoding="utf-8").splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "texts.csv"
        with open(data, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text"])
            writer.writerows([f"{texts[i % len(texts)]} #{i}"] for i in range(args.texts))
        started = time.perf_counter()
        store = create(Path(tmp) / "project", data,
                       LabelSettings(labels=("World", "Sports", "Business", "Sci/Tech"), data=str(data)))
        print(f"project of {args.texts} texts created in {time.perf_counter() - started:.1f} s")
        for query in (Query("oil prices"), Query(r"\boil\b.*\bprices?\b", regex=True),
                      Query("", status="all"), Query("zzzyx")):
            runs = [search(store, query) for _ in range(3)]
            print(f"q={query.text!r:28} regex={int(query.regex)}  matches {runs[0]['total']:7}  "
                  f"best of 3: {min(run['seconds'] for run in runs):.2f} s")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
