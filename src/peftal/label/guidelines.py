"""Annotation guidelines shown beside the text: ``peftal label start --guidelines FILE.md``.

The file is copied into the project (``PROJECT/guidelines.md``) when the project is created or
resumed with the option, so the guidelines stay with the labels they were given under, whatever
happens to the original file; a later ``--guidelines`` replaces the copy.

The page shows them rendered from Markdown by ``markdown-it-py`` (CommonMark and tables) with raw
HTML **off**: any HTML in the file is shown as text, never interpreted, and the parser itself
refuses ``javascript:``, ``vbscript:``, ``file:`` and ``data:`` links. (Python-Markdown passes raw
HTML through and would need a separate sanitiser.) Links open in a new tab, so following one
never leaves the labelling page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peftal.errors import UsageError

FILE_NAME = "guidelines.md"
MAX_BYTES = 256 * 1024  # a few pages of prose; a larger file is more likely the wrong file


def read(path: Path) -> str:
    """The text of the guidelines file ``path``, checked (UTF-8, at most :data:`MAX_BYTES`)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UsageError(f"--guidelines {path}: no such file")
    if not path.is_file():
        raise UsageError(f"--guidelines {path} is not a file; give one Markdown file")
    if path.stat().st_size > MAX_BYTES:
        raise UsageError(f"--guidelines {path} is larger than {MAX_BYTES // 1024} KiB")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--guidelines {path} is not UTF-8 text") from None


def save(project: Path, text: str) -> None:
    """Keep ``text`` as the project's guidelines (written atomically)."""
    from peftal.store.atomic import write_text_atomic

    write_text_atomic(Path(project) / FILE_NAME, text)


def load(project: Path) -> str | None:
    """The project's guidelines, or ``None`` when it has none."""
    try:
        return (Path(project) / FILE_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def render(text: str) -> str:
    """Safe HTML of the Markdown ``text``: raw HTML escaped, unsafe link schemes refused, links
    opening in a new tab."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")

    def link_open(renderer: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
        tokens[index].attrSet("target", "_blank")
        tokens[index].attrSet("rel", "noopener noreferrer")
        return renderer.renderToken(tokens, index, options, env)

    md.add_render_rule("link_open", link_open)
    return md.render(text)
