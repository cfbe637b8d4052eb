"""The floor plan's import rules (see README "Layout"), checked on the source without importing it.

- the jobs (teacher/, judge/, train/, evaluate/) never import each other (`job.py` runs them in order);
- the shared concepts (inputs/, modes/, families/, prompts, verdicts, engines/) never import a job, and of
  the plumbing only `storage`;
- no import circles between modules (a package and its own submodules aside);
- evaluate/report.py never imports evaluate/run.py.
"""

from __future__ import annotations

import ast

from support import REPO

PACKAGE = "judgelm_ray"
JOBS = ("teacher", "judge", "train", "evaluate")
CONCEPTS = ("inputs", "modes", "families", "prompts", "verdicts", "engines", "tokenizer")


def module_name(path) -> str:
    name = ".".join(path.relative_to(REPO).with_suffix("").parts)
    return name.removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    """Each module -> the package modules it imports (`from a import b` counts as a.b when b is a module)."""
    paths = {module_name(p): p for p in (REPO / PACKAGE).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
                submodules = {f"{node.module}.{a.name}" for a in node.names} & paths.keys()
                targets |= submodules or {node.module}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith(PACKAGE)}
        graph[name] = {t for t in targets if t != name}
    return graph


def part(module: str) -> str:
    """The top-level piece of the package a module belongs to: 'judge', 'spec', 'inputs', ..."""
    return module.split(".")[1] if module != PACKAGE else ""


def test_the_jobs_never_import_each_other():
    crossings = [(a, b) for a, targets in import_graph().items() for b in targets
                 if part(a) in JOBS and part(b) in JOBS and part(a) != part(b)]
    assert crossings == []


def test_shared_concepts_import_no_job_and_only_storage_of_the_plumbing():
    allowed = set(CONCEPTS) | {"storage"}
    wrong = [(a, b) for a, targets in import_graph().items() for b in targets
             if part(a) in CONCEPTS and part(b) not in allowed]
    assert wrong == []


def test_no_import_circles():
    graph = import_graph()

    def related(a: str, b: str) -> bool:  # a package imports its submodules, which import their siblings
        return a.startswith(b + ".") or b.startswith(a + ".")

    edges = {a: {b for b in targets if not related(a, b)} for a, targets in graph.items()}
    circles, state = [], {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                circles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_report_never_imports_the_evaluate_job():
    assert f"{PACKAGE}.evaluate.run" not in import_graph()[f"{PACKAGE}.evaluate.report"]
