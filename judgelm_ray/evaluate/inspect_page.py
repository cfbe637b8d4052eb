"""`judgelm-ray inspect`: one self-contained HTML page of the judgments of a run worth a look.

The rows come from `inspect_rows` (bounded: at most `limit` per category, whatever the run's
size). The page also shows the manifest's counts and, when the run was evaluated, metrics.json and
the evaluation's plots, embedded as base64 PNG: no external URL, so the file can be mailed or
opened from a bucket. Row text is escaped by Jinja2's autoescape (answers may hold HTML or
scripts), and a Content-Security-Policy lets only the page's own script run.
"""

from __future__ import annotations

import base64
import hashlib
import io
from importlib import resources

from judgelm_ray import runs, storage
from judgelm_ray.console import number, percent
from judgelm_ray.evaluate.inspect_rows import fetch_rows, gold_label, judgment_files, select_rows
from judgelm_ray.evaluate.report import BIAS_PNG, CONFUSION_PNG, COVERAGE_PNG, SCORES_PNG, pyplot

PAGE = "inspect.html"
DEFAULT_LIMIT = 200
# One answer or judge text longer than this is cut in the page (the full text stays in the Parquet).
TEXT_CHARS = 4000
# A dialogue longer than this shows its first and last turns only: a row's size on the page stays
# bounded (TURNS_SHOWN * TEXT_CHARS per dialogue) however long the conversation.
TURNS_SHOWN = 16

CATEGORY_NAMES = {
    "inconsistent": "order-inconsistent",
    "parse_failure": "parse failure",
    "gold_disagreement": "disagrees with gold",
    "close_call": "smallest score margin",
}
_CATEGORY_NOTES = {
    "inconsistent": "the verdict changed when the answers were swapped",
    "parse_failure": "no verdict could be read from a judge text",
    "gold_disagreement": "the forward-order verdict differs from the gold verdict (as metrics.json's agreement counts)",
    "close_call": "the smallest |s1 - s2| (gap between the two best scores) among rows with scores",
}
_PLOTS = ((CONFUSION_PNG, "Confusion matrix"), (BIAS_PNG, "Order effects"), (SCORES_PNG, "Score differences"),
          (COVERAGE_PNG, "Agreement vs coverage"))


def clip(text: str | None) -> dict:
    """A text for the page: at most TEXT_CHARS characters, and how many were cut."""
    text = "" if text is None else str(text)
    return {"text": text[:TEXT_CHARS], "cut": max(0, len(text) - TEXT_CHARS)}


def page_turns(turns) -> dict:
    """A dialogue for the page: role and clipped text of each turn, in order; past TURNS_SHOWN turns,
    the first and last halves, with how many were left out between them. None or [] is no turn."""
    turns = list(turns or [])
    omitted = max(0, len(turns) - TURNS_SHOWN)
    head = TURNS_SHOWN // 2 if omitted else len(turns)
    shown = lambda part: [{"role": str(t.get("role") or "?"), "content": clip(t.get("content"))}  # noqa: E731
                          for t in part]
    return {"count": len(turns), "head": shown(turns[:head]), "omitted": omitted,
            "tail": shown(turns[head + omitted:])}


def _answer_turns(row: dict) -> list[dict]:
    """Each answer's own earlier turns (`answer_turns[i]`), one per answer: none where the row has none."""
    per_answer = list(row.get("answer_turns") or [])
    return [page_turns(per_answer[i] if i < len(per_answer) else None) for i in range(len(row.get("answers") or []))]


def _dialogue(turns: dict, answer_turns: list[dict]) -> str | None:
    """A short note for the row's summary line that its question ends a dialogue."""
    if turns["count"]:
        return f"after {turns['count']} shared turn{'s' if turns['count'] != 1 else ''}"
    return "after each answer's own turns" if any(a["count"] for a in answer_turns) else None


def page_row(row: dict, picked: dict) -> dict:
    """What the template shows of one selected row; a column the file lacks (an older run) reads as none."""
    turns, answer_turns = page_turns(row.get("turns")), _answer_turns(row)
    reference_turns = page_turns(row.get("reference_turns"))
    return {
        "id": row.get("id"), "categories": picked["categories"], "margin": picked["margin"],
        "verdict": row.get("verdict"), "verdict_forward": row.get("verdict_forward"),
        "verdict_swapped": row.get("verdict_swapped"), "gold": gold_label(row),
        "scores": _scores(row.get("scores")), "scores_forward": _scores(row.get("scores_forward")),
        "scores_swapped": _scores(row.get("scores_swapped")), "gold_scores": _scores(row.get("gold_scores")),
        "parse_error": row.get("parse_error"), "question": clip(row.get("question")),
        "answers": [clip(a) for a in row.get("answers") or []],
        "reference": clip(row.get("reference")) if row.get("reference") or reference_turns["count"] else None,
        "turns": turns, "answer_turns": answer_turns, "reference_turns": reference_turns,
        "dialogue": _dialogue(turns, answer_turns), "mode": row.get("mode"), "template": row.get("template"),
        "rubric": clip(row.get("rubric")) if row.get("rubric") else None,
        "judge_forward": clip(row.get("judge_text_forward")),
        "judge_swapped": clip(row.get("judge_text_swapped")) if row.get("judge_text_swapped") is not None else None,
        "source": f"{row.get('source')} row {row.get('row')}" if row.get("source") else None,
    }


def _scores(values) -> str:
    return "-" if not values else ", ".join(f"{v:g}" for v in values)


def metrics_table(result: dict) -> list[tuple[str, str, str]]:
    """(metric, value, 95 % interval) rows of metrics.json for the page."""
    ci = result.get("ci") or {}
    interval = lambda key: f"[{percent(ci[key][0])}, {percent(ci[key][1])}]" if key in ci else ""  # noqa: E731
    rows = [("rows evaluated", number(result.get("n")), "")]
    rows += [(f"{name} %", percent(result.get(name)), interval(name))
             for name in ("agreement", "precision", "recall", "f1")]
    rows += [(f"{name} %", percent(result.get(name)), "")
             for name in ("agreement_swapped", "agreement_both", "consistency", "prefer_first", "prefer_second")]
    failures = result.get("parse_failures") or {}
    if failures:
        rows.append(("parse failures (forward / swapped)",
                     f"{failures['forward']:,} / {failures['swapped']:,} (policy {failures['policy']})", ""))
    scores = result.get("scores") or {}
    for name in ("pearson", "spearman", "kendall"):
        if scores.get(name) is not None:
            rows.append((f"score {name}", number(scores[name], "{:.3f}"), ""))
    return rows


def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def evaluation_plots(eval_folder: str) -> list[dict]:
    """The evaluation's PNG plots that exist, as data: URLs."""
    plots = []
    for name, title in _PLOTS:
        path = storage.join(eval_folder, name)
        if storage.exists(path):
            fs, inner = storage.filesystem_for(path)
            with fs.open_input_stream(inner) as stream:
                plots.append({"title": title, "src": _png(stream.read())})
    return plots


def margin_plot(margins: dict[float, int]) -> dict | None:
    """A histogram of score margins over all rows, drawn here: it exists for runs never evaluated."""
    if not margins:
        return None
    plt = pyplot()
    values = sorted(margins)
    figure, axes = plt.subplots(figsize=(7, 3.2))
    counts = [margins[v] for v in values]
    if len(values) <= 40:  # scores are mostly whole numbers (or halves, averaged over orders): one bar each
        gaps = [b - a for a, b in zip(values, values[1:])]
        axes.bar(values, counts, width=0.8 * min(gaps + [1.0]), color="#4c72b0")
    else:
        axes.hist(values, weights=counts, bins=40, color="#4c72b0")
    axes.yaxis.get_major_locator().set_params(integer=True)  # rows are counted, never halves
    axes.set_xlabel("score margin (best - second best)")
    axes.set_ylabel("rows")
    axes.set_title(f"Score margins over {sum(margins.values()):,} rows")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return {"title": "Score margins", "src": _png(buffer.getvalue())}


def _manifest_table(manifest: dict | None, folder: runs.RunFolder) -> list[tuple[str, str]]:
    """The run's name, status, model and row counts; without a manifest, the quarantine's row count."""
    if manifest is None:
        return [("manifest", "none (no manifest.json)"),
                ("quarantined rows", number(storage.parquet_row_count(folder.quarantine)))]
    judge = (manifest.get("spec") or {}).get("judge") or {}
    counts = manifest.get("counts") or {}
    rows = [("name", str(manifest.get("name"))), ("status", str(manifest.get("status"))),
            ("model", str(judge.get("model"))), ("engine", str(judge.get("engine")))]
    # A run from before judge families has no `template` in its spec: the row is left out, not guessed.
    rows += [(key, str(judge[key])) for key in ("mode", "template") if judge.get(key) is not None]
    rows.append(("started / ended", f"{manifest.get('started')} / {manifest.get('ended')}"))
    rows += [(f"{key} rows", number(counts[key])) for key in ("read", "judged", "quarantined", "parse_failures", "reused")
             if counts.get(key) is not None]
    if manifest.get("error"):
        rows.append(("error", str(manifest["error"])))
    return rows


def _eval_folder(folder: runs.RunFolder, manifest: dict | None) -> str:
    """Where the evaluation was written: the spec's `evaluate.out`, else <output>/eval."""
    section = ((manifest or {}).get("spec") or {}).get("evaluate") or {}
    return section.get("out") or folder.eval


def _script() -> tuple[str, str]:
    """The page's script and its CSP hash: only this script may run, never one inside a row."""
    script = resources.files("judgelm_ray.evaluate").joinpath("templates/inspect.js").read_text("utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return script, f"'sha256-{digest}'"


def render_page(context: dict) -> str:
    """The HTML of the page (Jinja2, every value escaped unless the template says otherwise)."""
    import jinja2
    from markupsafe import Markup

    environment = jinja2.Environment(loader=jinja2.PackageLoader("judgelm_ray.evaluate", "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    script, script_hash = _script()
    return environment.get_template("inspect.html.j2").render(
        **context, script=Markup(script), script_hash=script_hash, category_names=CATEGORY_NAMES,
        category_notes=_CATEGORY_NOTES)


def build_context(output: str, limit: int = DEFAULT_LIMIT) -> dict:
    """Everything the page shows of a run folder (local or s3://), read in bounded memory."""
    if limit < 0:
        raise ValueError(f"limit: must be >= 0, got {limit}")
    folder = runs.RunFolder(output)
    manifest = storage.read_json(folder.manifest) if storage.exists(folder.manifest) else None
    fs, files = judgment_files(folder.judgments)
    if manifest is None and not files:
        raise FileNotFoundError(f"{output}: not a run folder (no manifest.json and no judgments/*.parquet)")
    selection = select_rows(fs, files, limit)
    picked = selection.selected()
    full = fetch_rows(fs, files, picked)
    eval_folder = _eval_folder(folder, manifest)
    metrics_path = storage.join(eval_folder, "metrics.json")
    metrics = storage.read_json(metrics_path) if storage.exists(metrics_path) else None
    plots = evaluation_plots(eval_folder) if metrics is not None else []
    margins = margin_plot(selection.margins)
    return {
        "output": output, "limit": limit, "total_rows": selection.rows,
        "run": _manifest_table(manifest, folder),
        "metrics": metrics_table(metrics) if metrics is not None else None, "eval_folder": eval_folder,
        "plots": plots + ([margins] if margins else []),
        "categories": [{"name": c, "count": selection.counts[c],
                        "shown": sum(c in p["categories"] for p in picked.values())} for c in selection.categories()],
        "has_gold": selection.has_gold,
        "rows": [page_row(full[key], picked[key]) for key in picked],
    }


def write_inspect_page(output: str, limit: int = DEFAULT_LIMIT) -> str:
    """Write <output>/inspect.html (local or s3://) with at most `limit` rows per category; returns its path."""
    html = render_page(build_context(output, limit))
    path = storage.join(output, PAGE)
    storage.write_bytes(path, html.encode("utf-8"))
    return path
