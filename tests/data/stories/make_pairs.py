"""Write pairs.jsonl from articles.jsonl (run from anywhere: ``python make_pairs.py``).

Every two reports of one story are a positive pair ("same-story"); every two reports of different
stories of one group (the same company or subject, days or weeks apart) a hard negative
("same-company"); 150 pairs of different groups in the same language, drawn with a fixed seed,
easy negatives ("other").
"""

from __future__ import annotations

import json
import random
from itertools import combinations
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    articles = [json.loads(line) for line in (HERE / "articles.jsonl").open(encoding="utf-8")]
    pairs = []
    for x, y in combinations(articles, 2):
        if x["story"] == y["story"]:
            pairs.append({"a": x["id"], "b": y["id"], "same": True, "kind": "same-story"})
    for x, y in combinations(articles, 2):
        if x["group"] == y["group"] and x["story"] != y["story"]:
            pairs.append({"a": x["id"], "b": y["id"], "same": False, "kind": "same-company"})
    rng = random.Random(12)
    seen: set[tuple[str, str]] = set()
    while len(seen) < 150:
        x, y = rng.sample(articles, 2)
        if x["group"] == y["group"] or x["lang"] != y["lang"] or (x["id"], y["id"]) in seen:
            continue
        seen.add((x["id"], y["id"]))
        pairs.append({"a": x["id"], "b": y["id"], "same": False, "kind": "other"})
    with (HERE / "pairs.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)


if __name__ == "__main__":
    main()
