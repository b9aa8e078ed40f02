"""The documents point only at what a clone has.

A clone is all a reader gets: a link or a path that leads outside the
repository (a folder beside the checkout, a file that was never committed)
is a dead end for every user but its author.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.engine import REPO_ROOT
from support.stack import repository_files

# [text](target) in markdown; images too. Anchors and URLs are not files.
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path that climbs out of the repository's root folder into a sibling.
SIBLING = re.compile(r"\.\./" + "shared" + r"\b|\bshared/" + "reference" + r"\b")


def markdown_files() -> list[Path]:
    return [path for path in repository_files() if path.suffix == ".md"]


def text_files() -> list[Path]:
    files = []
    for path in repository_files():
        try:
            (REPO_ROOT / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        files.append(path)
    return files


def test_every_relative_link_in_a_document_leads_to_a_file_of_the_repository():
    dead = []
    for path in markdown_files():
        for target in LINK.findall((REPO_ROOT / path).read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            resolved = (REPO_ROOT / path).parent / target.split("#", 1)[0]
            inside = resolved.resolve().is_relative_to(REPO_ROOT.resolve())
            if not (inside and resolved.exists()):
                dead.append(f"{path}: ({target})")
    assert not dead, "links to nothing a clone has:\n" + "\n".join(dead)


def test_no_file_refers_to_folders_beside_the_repository():
    found = [f"{path}:{number}: {line.strip()}"
             for path in text_files()
             for number, line in enumerate((REPO_ROOT / path).read_text(encoding="utf-8").splitlines(), 1)
             if SIBLING.search(line)]
    assert not found, "references to files outside the repository:\n" + "\n".join(found)
