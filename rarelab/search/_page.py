"""``candidates.html``: the page a person labels a round's candidates on.

One self-contained file that works opened from disk (``file://``, no server, no network):
the page's HTML, CSS and JavaScript (``widgets/labeling_page.*``) and the candidates (one
JSON block, thumbnails as PNG data URIs) are all inline. Clicks and keys are kept in the
browser's ``localStorage`` under the run and round, and a button saves ``answers.csv`` in
the format ``rarelab search label`` reads.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shlex
from pathlib import Path

from ..reporting import png_data_uri
from ..utils import front_end_file, printable_path
from ._config import NOT_LABELS

_SLOT = re.compile(r"\{\{(\w+)\}\}")


def labeling_page(rows, thumbs, *, rare_names, class_names, run_dir, round_: int, thumb: int = 96) -> str:
    """The labeling page of one round's candidates, as HTML text.

    Parameters
    ----------
    rows : list of dict
        :func:`~rarelab.search.candidate_rows`: ``item_id``, ``path`` (as shown), ``rare_class``
        (a name of ``rare_names``), ``score`` and ``probability``, rare class by rare class.
    thumbs : sequence of uint8 arrays (h, w, 3)
        One thumbnail per row.
    rare_names : list of str
        The search's rare classes; a candidate may be marked as any of them.
    class_names : list of str
        Every class of the search: the word saved for "not rare" is one that names none.
    run_dir : path
        The run; its absolute path is shown in the import command and keys the stored clicks.
    round_ : int
    thumb : int
        Side of the thumbnails in CSS pixels.
    """
    if len(thumbs) != len(rows):
        raise ValueError(f"labeling_page needs one thumbnail per row; got {len(thumbs)} for {len(rows)} rows.")
    rare_names = list(rare_names)
    run = printable_path(Path(run_dir).resolve())
    ranks: dict[str, int] = {}
    candidates = []
    for r, im in zip(rows, thumbs):
        ranks[r["rare_class"]] = ranks.get(r["rare_class"], 0) + 1
        candidates.append(
            {
                "id": int(r["item_id"]),
                "path": r["path"],
                "name": Path(r["path"]).name if r["path"] else "",
                "cls": rare_names.index(r["rare_class"]),
                "rank": ranks[r["rare_class"]],
                "p": float(r["probability"]),
                "score": float(f"{r['score']:.6g}"),
                "thumb": png_data_uri(im, thumb),
            }
        )
    # The candidates themselves key the stored clicks too: a run folder made again from
    # scratch (other files, same item ids) never shows the old folder's clicks.
    fingerprint = hashlib.sha1(json.dumps([[c["id"], c["path"]] for c in candidates]).encode()).hexdigest()[:12]
    command = f"rarelab search label {shlex.quote(run)} --csv answers.csv"
    data = {
        "run": run,
        "round": int(round_),
        "key": f"rarelab-labels:v1:{run}:round {int(round_)}:{fingerprint}",
        "rare": rare_names,
        # An exact class name wins over the words for "not rare" when answers are read.
        "not_label": next(w for w in NOT_LABELS if w not in class_names),
        "thumb": int(thumb),
        "candidates": candidates,
    }
    slots = {
        "title": html.escape(f"rarelab: label round {round_} of {Path(run).name}"),
        "heading": html.escape(f"Round {round_} of {run}: {len(candidates)} candidates"),
        "import_command": html.escape(command),
        "css": _inline(front_end_file("labeling_page.css").read_text(encoding="utf-8"), "style"),
        "js": _inline(front_end_file("labeling_page.js").read_text(encoding="utf-8"), "script"),
        "data": _json_for_script(data),
    }
    template = front_end_file("labeling_page.html").read_text(encoding="utf-8")
    # One pass: text put into one slot is never read as another slot.
    return _SLOT.sub(lambda m: slots[m.group(1)], template)


def _json_for_script(data) -> str:
    """JSON that cannot end its ``<script>`` element early (``</script>``, ``<!--`` in a file name)."""
    return (
        json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )


def _inline(text: str, tag: str) -> str:
    if f"</{tag}" in text.lower() or "<!--" in text:
        raise ValueError(f"widgets file inlined into a <{tag}> holds '</{tag}' or '<!--'; it would end the element.")
    return text
