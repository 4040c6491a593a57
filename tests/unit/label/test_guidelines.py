"""Guidelines beside the text: read and checked, kept in the project, rendered without raw HTML."""

from __future__ import annotations

import pytest

from peftal.errors import UsageError
from peftal.label import guidelines
from peftal.label.server import create_app


def test_markdown_is_rendered_and_html_in_it_is_shown_as_text():
    html = guidelines.render("# Labels\n\n- **positive**: praise\n\n| label | key |\n|---|---|\n| a | 1 |\n\n"
                             "<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
                             "[bad](javascript:alert(1)) [ok](https://example.org/guide)")
    assert "<h1>Labels</h1>" in html and "<strong>positive</strong>" in html and "<td>a</td>" in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x" in html
    assert "javascript:" not in html.split("[bad]")[0] and 'href="javascript' not in html
    assert '<a href="https://example.org/guide" target="_blank" rel="noopener noreferrer">ok</a>' in html


def test_bad_files_are_refused(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        guidelines.read(tmp_path / "missing.md")
    with pytest.raises(UsageError, match="is not a file"):
        guidelines.read(tmp_path)
    (tmp_path / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        guidelines.read(tmp_path / "latin1.md")
    (tmp_path / "big.md").write_text("x" * (guidelines.MAX_BYTES + 1))
    with pytest.raises(UsageError, match="larger than 256 KiB"):
        guidelines.read(tmp_path / "big.md")


def test_the_project_keeps_its_copy_and_the_api_serves_it(make_project, tmp_path):
    store, settings, folder = make_project(n=4)
    client = create_app(store, settings).test_client()
    assert client.get("/api/guidelines").get_json() == {"markdown": None, "html": None}
    source = tmp_path / "rules.md"
    source.write_text("Use *neutral* when unsure.\n", encoding="utf-8")
    guidelines.save(folder, guidelines.read(source))
    source.unlink()  # the copy in the project is what is served
    answer = client.get("/api/guidelines").get_json()
    assert answer["markdown"] == "Use *neutral* when unsure.\n"
    assert answer["html"] == "<p>Use <em>neutral</em> when unsure.</p>\n"
