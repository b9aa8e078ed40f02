"""The measured figures in the documents are what docs/generate.py makes of
the committed result files: a hand-edited number, a result file changed
without regenerating, or a block that no longer matches its file goes red.

The generator is loaded from its file (docs/ is no package); it uses only
the standard library, so this needs neither an engine nor a run.
"""

from __future__ import annotations

import importlib.util
import json

from support.engine import REPO_ROOT


def generator():
    spec = importlib.util.spec_from_file_location("docs_generate", REPO_ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocks() -> list[tuple[str, str, list[str], str]]:
    """(document, kind, result files, body) of every generated block."""
    found = []
    generate = generator()
    for path in generate.DOCUMENTS:
        file = REPO_ROOT / path
        if file.is_file():
            for match in generate.BLOCK.finditer(file.read_text(encoding="utf-8")):
                found.append((path, match["kind"], match["files"].split(), match["body"]))
    return found


def test_the_documents_carry_generated_figures_tables():
    documents = {path for path, *_ in blocks()}
    assert {"docs/performance.md", "docs/reliability.md"} <= documents, documents


def test_every_generated_block_is_what_its_result_files_make():
    generate = generator()
    stale = []
    for path, (now, generated) in generate.documents().items():
        if now != generated:
            diff = "".join(generate.difflib.unified_diff(now.splitlines(True), generated.splitlines(True),
                                                         f"{path} (now)", f"{path} (generated)"))
            stale.append(diff)
    assert not stale, ("generated blocks differ from their result files; run python3 docs/generate.py, "
                       "and change figures only through a result file:\n" + "\n".join(stale))


def test_every_generated_block_states_the_date_and_machine_of_its_runs():
    for path, kind, files, body in blocks():
        for name in files:
            data = json.loads((REPO_ROOT / name).read_text(encoding="utf-8"))
            runs = data["runs"].values() if "runs" in data else [data]
            used = [run for run in runs if run["date"] in body]
            assert used, f"{path}: the {kind} block from {name} does not give the date of its run"
            for run in used:
                assert run["machine"].split(";")[0] in body, \
                    f"{path}: the {kind} block from {name} does not name the machine {run['machine']!r}"


def test_every_committed_result_file_is_shown_in_a_document():
    shown = {name for *_, files, _ in blocks() for name in files}
    published = {path.relative_to(REPO_ROOT).as_posix()
                 for path in [*(REPO_ROOT / "bench" / "results").glob("*.json"),
                              *(REPO_ROOT / "tests" / "reliability" / "results").glob("*.json")]
                 # A run's own output (latest.json, upgrade-latest.json) is git-ignored.
                 if not path.name.endswith("latest.json")}
    assert published <= shown, f"result files no document shows: {sorted(published - shown)}"
