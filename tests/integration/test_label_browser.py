"""The labelling page in headless Chromium: 40 TREC questions labelled with the keyboard.

The linear probe's suggestion appears after the first labels of two classes and Enter accepts
it; the first PEFT model, trained after 20 labels, is judged against the probe on the 10 labels
after it, and the page says who suggests accordingly; no request of the page gets a 404.

Chromium comes from Debian (.ci/install-browser.sh); Playwright drives it through the
`playwright` package of the dev extra. The test is skipped only when no Chromium is installed.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.conftest import run_cli
from tests.integration.label_server import TREC_LABELS, Server, trec_csv

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TO_LABEL = 40
# The model status once the newest model has been judged on the labels after it, with the
# suggester it names, read from one textContent (null until both agree).
JUDGED = """() => {
  const text = document.getElementById('model-status').textContent;
  const found = text.match(/on the (\\d+) labels since: model right (\\d+), probe (\\d+)/);
  if (!found) return null;
  const [labels, model, probe] = found.slice(1).map(Number);
  const suggester = text.includes('suggestions: model #') ? 'model' : 'probe';
  return (model > probe) === (suggester === 'model') ? {labels, model, probe, suggester} : null;
}"""


def find_chromium() -> str | None:
    """``$PEFTAL_CHROMIUM``, else a Chromium on the PATH."""
    if os.environ.get("PEFTAL_CHROMIUM"):
        return os.environ["PEFTAL_CHROMIUM"]
    return next(filter(None, (shutil.which(name) for name in ("chromium", "chromium-browser"))), None)


def shown(page) -> tuple[int, str]:
    """The id and text of the example on screen, once the page is ready for a key."""
    page.wait_for_function("document.body.dataset.state === 'ready'")
    return int(page.get_attribute("#text", "data-id")), page.inner_text("#text")


def press(page, key: str, leaving: int) -> None:
    """Press ``key`` and wait until the page shows an example other than ``leaving``."""
    page.keyboard.press(key)
    page.wait_for_function(f"document.body.dataset.state === 'ready' && "
                           f"document.getElementById('text').dataset.id !== '{leaving}'")


def test_label_forty_trec_questions_with_the_keyboard(tmp_path, data_dir):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (run .ci/install-browser.sh, or set PEFTAL_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    gold = trec_csv(data_dir, tmp_path / "questions.csv", 120)
    key_of = {label: str(n + 1) for n, label in enumerate(TREC_LABELS)}
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--query-size", "20", "--max-length", "32", "--epochs", "3", "--cv-folds", "0")
    given: dict[int, str] = {}
    accepted: set[int] = set()  # labelled with the suggestion (Enter), not the gold label
    suggestions: list[str] = []
    missing: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 640})
            page.on("response", lambda answer: missing.append(answer.url) if answer.status == 404 else None)
            page.set_default_timeout(90_000)
            page.goto(server.url + "/")
            page.fill("#annotator", "Alice")
            page.press("#annotator", "Enter")
            undone = skipped = False
            while len(given) < TO_LABEL:
                example_id, text = shown(page)
                if len(given) >= 6 and len(set(given.values())) >= 2 and not accepted:
                    # The probe on frozen embeddings suggests from the first labels of two classes
                    # (once the 120 texts are embedded: seconds), and Enter takes its suggestion.
                    page.wait_for_selector("#suggestion:not([hidden])", timeout=120_000)
                    assert "linear probe" in page.inner_text("#suggestion")
                    assert "suggestions: linear probe on" in page.inner_text("#model-status")
                    suggested = page.inner_text("#suggestion").split()[1]
                    assert page.locator("button.label.suggested").count() == 1
                    press(page, "Enter", leaving=example_id)
                    given[example_id] = suggested
                    accepted.add(example_id)
                    continue
                if len(given) == 20:
                    # The first retrain runs in the background; the page keeps serving meanwhile.
                    page.wait_for_function("document.getElementById('model-status').textContent"
                                           ".includes('model #1 trained on 20 labels')", timeout=300_000)
                if len(given) == 30:
                    # Ten labels after it, model #1 is judged against the probe on them, and the
                    # page names the winner as the suggester (the probe on a tie).
                    verdict = page.wait_for_function(JUDGED, timeout=60_000).json_value()
                    model_won = verdict["model"] > verdict["probe"]
                    assert verdict["labels"] == 10
                    assert verdict["suggester"] == ("model" if model_won else "probe")
                    page.wait_for_selector("#suggestion:not([hidden])")
                    page.screenshot(path=str(tmp_path / "page.png"))
                if page.is_visible("#suggestion"):
                    suggestions.append(page.inner_text("#suggestion"))
                if len(given) == 5 and not undone:
                    wrong = next(label for label in TREC_LABELS if label != gold[text])
                    press(page, key_of[wrong], leaving=example_id)
                    press(page, "u", leaving=-1)  # undo: the same text comes back
                    assert shown(page)[0] == example_id
                    undone = True
                if len(given) == 10 and not skipped:
                    press(page, "s", leaving=example_id)  # skipped: never labelled
                    skipped = True
                    continue
                press(page, key_of[gold[text]], leaving=example_id)
                given[example_id] = gold[text]
            page.wait_for_function(f"document.getElementById('count').textContent.startsWith('{TO_LABEL} ')")
            browser.close()
        run_cli("label", "export", str(project), "--output", str(tmp_path / "labels.jsonl"))
    finally:
        assert server.stop() == 0
    assert suggestions, "no suggestion appeared"
    assert all(s.startswith("Suggested: ") and s.split()[1] in TREC_LABELS for s in suggestions)
    assert any("linear probe" in s for s in suggestions)
    assert any("model #" in s for s in suggestions) == model_won
    assert not missing, f"requests answered 404: {missing}"
    assert len(accepted) == 1
    rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert {row["id"]: row["label"] for row in rows} == given
    assert len(rows) == TO_LABEL
    assert {a["annotator"] for row in rows for a in row["annotations"]} == {"Alice"}
    assert all(row["text"] in gold and (gold[row["text"]] == row["label"] or row["id"] in accepted)
               for row in rows)


def test_two_annotators_disagree_and_a_reviewer_resolves_every_disagreement(tmp_path, data_dir):
    """Alice and Bob (two browser contexts) label the same six questions with --overlap 1; Bob gives
    another label on three; the kappa the page shows is scikit-learn's; a reviewer resolves the
    three in /review; the export holds both annotations and the final label of each text."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (run .ci/install-browser.sh, or set PEFTAL_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    from sklearn.metrics import cohen_kappa_score

    gold = trec_csv(data_dir, tmp_path / "questions.csv", 12)
    key_of = {label: str(n + 1) for n, label in enumerate(TREC_LABELS)}
    other = {label: TREC_LABELS[(n + 1) % len(TREC_LABELS)] for n, label in enumerate(TREC_LABELS)}
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--overlap", "1.0", "--no-trainer")
    given: dict[str, dict[int, str]] = {"Alice": {}, "Bob": {}}
    missing: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            pages = {}
            for name in ("Alice", "Bob", "Rita"):
                page = browser.new_context(viewport={"width": 1000, "height": 700}).new_page()
                page.on("response", lambda a: missing.append(a.url) if a.status == 404 else None)
                page.set_default_timeout(60_000)
                pages[name] = page
            for name in ("Alice", "Bob"):
                page = pages[name]
                page.goto(server.url + "/")
                page.fill("#annotator", name)
                page.press("#annotator", "Enter")
                for k in range(6):
                    example_id, text = shown(page)
                    label = other[gold[text]] if name == "Bob" and k % 2 else gold[text]
                    press(page, key_of[label], leaving=example_id)
                    given[name][example_id] = label
            assert set(given["Alice"]) == set(given["Bob"])  # Bob got Alice's texts, blind
            page = pages["Bob"]
            # The table follows the labels within a second (the page reads the stats every second).
            page.wait_for_function("(document.querySelector('#kappa-rows td:nth-child(2)') || {})"
                                   ".textContent === '6'")
            cells = page.locator("#kappa-rows td").all_text_contents()
            shared = sorted(given["Alice"])
            kappa = cohen_kappa_score([given["Alice"][i] for i in shared], [given["Bob"][i] for i in shared])
            assert cells[:2] == ["Alice / Bob", "6"] and cells[3] == f"{kappa:.3f}"

            review = pages["Rita"]
            review.goto(server.url + "/review")
            review.fill("#reviewer", "Rita")
            review.press("#reviewer", "Enter")
            review.wait_for_function("document.getElementById('disagreements-count').textContent === '(3)'")
            assert "no embeddings yet" in review.inner_text("#contradictions-note")
            for left in (2, 1, 0):
                item = review.locator("#disagreement-items article").first
                example_id = int(item.get_attribute("data-id"))
                history = item.locator(".history").inner_text()
                assert f"Alice: {given['Alice'][example_id]}" in history
                assert f"Bob: {given['Bob'][example_id]}" in history
                item.locator(f"button[data-label='{given['Alice'][example_id]}']").click()
                review.wait_for_function(
                    f"document.getElementById('disagreements-count').textContent === '({left})'")
            assert review.inner_text("#disagreement-items") == "No disagreements left."
            browser.close()
        run_cli("label", "export", str(project), "--output", str(tmp_path / "labels.jsonl"))
    finally:
        assert server.stop() == 0
    assert not missing, f"requests answered 404: {missing}"
    rows = {row["id"]: row for row in map(json.loads, (tmp_path / "labels.jsonl").read_text().splitlines())}
    assert set(given["Alice"]) <= set(rows)
    for example_id, alice in given["Alice"].items():
        row = rows[example_id]
        bob = given["Bob"][example_id]
        assert {(a["annotator"], a["label"]) for a in row["annotations"]} == {("Alice", alice), ("Bob", bob)}
        assert row["label"] == alice == gold[row["text"]]
        if alice == bob:
            assert row["resolution"] == "unanimous"
        else:
            assert row["resolution"] == "review" and row["reviewed"]["by"] == "Rita"


GUIDELINES = """# How to label

- **HUM**: the answer is a person or a group of people.
- **LOC**: the answer is a place.

<script>window.injected = 1</script>

[More on TREC](https://cogcomp.seas.upenn.edu/Data/QA/QC/)
"""


def test_guidelines_beside_the_text_on_a_page_behind_a_token(tmp_path, data_dir):
    """The page link with ?token= sets the cookie the page's requests need; the guidelines show
    beside the text (below it on a narrow screen), their HTML as text; they stay in the project."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (run .ci/install-browser.sh, or set PEFTAL_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    token = "guidelines-test-token-0123456789"
    trec_csv(data_dir, tmp_path / "questions.csv", 12)
    rules = tmp_path / "rules.md"
    rules.write_text(GUIDELINES, encoding="utf-8")
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--guidelines", str(rules), "--token", token, "--no-trainer")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1200, "height": 800})
            page = context.new_page()
            page.set_default_timeout(60_000)
            assert page.goto(server.url + "/").status == 401
            assert "access token" in page.inner_text("body")
            assert page.goto(f"{server.url}/?token={token}").status == 200
            assert page.url == server.url + "/"  # the token left the address bar
            (cookie,) = context.cookies()
            assert cookie["value"] == token and cookie["httpOnly"] is True
            page.fill("#annotator", "Alice")
            page.press("#annotator", "Enter")
            example_id, _ = shown(page)
            press(page, "4", leaving=example_id)  # the page's requests carry the cookie
            page.wait_for_selector("#guidelines:not([hidden])")
            body = page.locator("#guidelines-body")
            assert body.locator("h1").inner_text() == "How to label"
            assert body.locator("strong").all_inner_texts() == ["HUM", "LOC"]
            assert "<script>window.injected = 1</script>" in body.inner_text()  # shown, not run
            assert body.locator("script").count() == 0 and page.evaluate("window.injected") is None
            assert body.locator("a").get_attribute("target") == "_blank"
            card, aside = page.locator("#card").bounding_box(), page.locator("#guidelines").bounding_box()
            assert aside["x"] >= card["x"] + card["width"] and aside["y"] < card["y"] + card["height"]
            page.set_viewport_size({"width": 600, "height": 800})
            card, aside = page.locator("#card").bounding_box(), page.locator("#guidelines").bounding_box()
            assert aside["y"] >= card["y"] + card["height"] and aside["width"] > 0.8 * card["width"]
            browser.close()
    finally:
        assert server.stop() == 0
    # A resume without the option, the original file gone: the project's copy is served.
    rules.unlink()
    again = Server(project, "--token", token, "--no-trainer")
    try:
        status, answer = again.request("GET", "/api/guidelines", headers={"Authorization": f"Bearer {token}"})
    finally:
        assert again.stop() == 0
    assert status == 200 and answer["markdown"] == GUIDELINES
    assert (project / "guidelines.md").read_text(encoding="utf-8") == GUIDELINES


def test_the_review_page_lists_contradictions_and_resolves_one(tmp_path, data_dir):
    """With the background trainer embedding the pool: the labels the probe contradicts show most
    confident first, each with its history, and a click sets the final label."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (run .ci/install-browser.sh, or set PEFTAL_CHROMIUM)")
    import re
    import time

    from playwright.sync_api import sync_playwright

    gold = trec_csv(data_dir, tmp_path / "questions.csv", 60)
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--query-size", "1000", "--cv-folds", "0", "--max-length", "32")
    given = {}
    try:
        for k in range(40):
            _, item = server.request("POST", "/api/next", {"annotator": "ann"})
            label = gold[item["text"]]
            if k % 10 == 3:
                label = TREC_LABELS[(TREC_LABELS.index(label) + 1) % len(TREC_LABELS)]
            server.request("POST", "/api/label", {"id": item["id"], "label": label, "annotator": "ann"})
            given[item["id"]] = label
        deadline = time.monotonic() + 240
        while (server.request("GET", "/api/stats")[1].get("embedding") or {}).get("embedded", 0) < 60:
            assert time.monotonic() < deadline, "the pool was not embedded in 4 minutes"
            time.sleep(1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.set_default_timeout(60_000)
            page.goto(server.url + "/review")
            page.fill("#reviewer", "Rita")
            page.press("#reviewer", "Enter")
            page.wait_for_selector("#contradiction-items article")
            assert "linear probe" in page.inner_text("#contradictions-note")
            assert "5-fold cross-validation on 40 labels" in page.inner_text("#contradictions-note")
            disputes = page.locator("#contradiction-items .dispute").all_inner_texts()
            shape = r"Labelled (\w+) \((\d+)%\); the model says (\w+) \((\d+)%\)"
            parsed = [re.fullmatch(shape, text).groups() for text in disputes]
            alternatives = [int(p[3]) for p in parsed]
            assert alternatives == sorted(alternatives, reverse=True)  # most confident first
            assert all(p[0] != p[2] and int(p[3]) >= int(p[1]) for p in parsed)  # (rounded)
            first = page.locator("#contradiction-items article").first
            example_id = int(first.get_attribute("data-id"))
            assert parsed[0][0] == given[example_id]
            assert first.locator(".history").inner_text().startswith(f"ann: {given[example_id]} ")
            first.locator(f"button[data-label='{parsed[0][2]}']").click()
            page.wait_for_selector(f"#contradiction-items article[data-id='{example_id}']", state="detached")
            assert f"Text {example_id} resolved: {parsed[0][2]}." in page.inner_text("#message")
            browser.close()
        status, lists = server.request("GET", "/api/review")
    finally:
        assert server.stop() == 0
    assert example_id not in [item["id"] for item in lists["contradictions"]["items"]]
    run_cli("label", "export", str(project), "--output", str(tmp_path / "labels.jsonl"))
    rows = {row["id"]: row for row in map(json.loads, (tmp_path / "labels.jsonl").read_text().splitlines())}
    assert (rows[example_id]["label"], rows[example_id]["resolution"]) == (parsed[0][2], "review")
    assert [a["label"] for a in rows[example_id]["annotations"]] == [given[example_id]]


def test_search_for_a_rare_word_and_label_the_text_found(tmp_path, data_dir):
    """A word that occurs in one question of 80: the search finds it (the count is the one Python
    finds), a click puts it on screen leased to Alice, a key labels it, the text she was on comes
    back, and the export holds the label."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (run .ci/install-browser.sh, or set PEFTAL_CHROMIUM)")
    import re

    from playwright.sync_api import sync_playwright

    gold = trec_csv(data_dir, tmp_path / "questions.csv", 80)
    texts = list(gold)
    words = sorted({w for t in texts for w in re.findall(r"[A-Za-z]{6,}", t)})
    rare = next(w for w in words if sum(w.casefold() in t.casefold() for t in texts) == 1)
    (target,) = [t for t in texts if rare.casefold() in t.casefold()]
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--no-trainer")
    missing: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.on("response", lambda a: missing.append(a.url) if a.status == 404 else None)
            page.set_default_timeout(60_000)
            page.goto(server.url + "/")
            page.fill("#annotator", "Alice")
            page.press("#annotator", "Enter")
            first_id, first_text = shown(page)
            page.click("#find summary")
            page.fill("#search-q", rare.upper())
            page.click("#search-go")
            page.wait_for_selector("#search-results button.found")
            assert page.get_attribute("#search-summary", "data-total") == "1"
            result = page.locator("#search-results button.found")
            assert result.inner_text() == target
            found_id = int(result.get_attribute("data-id"))
            result.click()
            page.wait_for_function(f"document.body.dataset.state === 'ready' && "
                                   f"document.getElementById('text').dataset.id === '{found_id}'")
            assert page.inner_text("#text") == target
            # Leased to Alice: another annotator is not handed it, and cannot take it.
            status, other = server.request("POST", "/api/take", {"id": found_id, "annotator": "Bob"})
            assert status == 409 and "Alice" in other["error"]
            press(page, str(TREC_LABELS.index(gold[target]) + 1), leaving=found_id)
            assert shown(page) == (first_id, first_text)  # back to the text she was on
            page.fill("#search-q", rare)
            page.click("#search-go")
            page.wait_for_function("document.getElementById('search-summary').dataset.total === '0'")
            browser.close()
        run_cli("label", "export", str(project), "--output", str(tmp_path / "labels.jsonl"))
    finally:
        assert server.stop() == 0
    assert not missing, f"requests answered 404: {missing}"
    (row,) = map(json.loads, (tmp_path / "labels.jsonl").read_text().splitlines())
    assert (row["id"], row["text"], row["label"]) == (found_id, target, gold[target])
    assert [a["annotator"] for a in row["annotations"]] == ["Alice"]


def test_the_model_page_shows_per_label_scores_and_the_confusion_matrix(tmp_path, data_dir):
    """40 TREC questions labelled with their gold label, the pool embedded by the background
    trainer: /model shows the probe's per-label table and confusion matrix, equal to the API's
    (which the unit tests check against scikit-learn), its point on the accuracy curve and the
    labels per annotator."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (run .ci/install-browser.sh, or set PEFTAL_CHROMIUM)")
    import time

    from playwright.sync_api import sync_playwright

    gold = trec_csv(data_dir, tmp_path / "questions.csv", 60)
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--query-size", "1000", "--cv-folds", "0", "--max-length", "32")
    missing: list[str] = []
    try:
        for k in range(40):
            annotator = "ann" if k % 4 else "bob"
            _, item = server.request("POST", "/api/next", {"annotator": annotator})
            server.request("POST", "/api/label", {"id": item["id"], "label": gold[item["text"]],
                                                  "annotator": annotator})
        deadline = time.monotonic() + 240
        while (server.request("GET", "/api/stats")[1].get("embedding") or {}).get("embedded", 0) < 60:
            assert time.monotonic() < deadline, "the pool was not embedded in 4 minutes"
            time.sleep(1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.on("response", lambda a: missing.append(a.url) if a.status == 404 else None)
            page.set_default_timeout(60_000)
            page.goto(server.url + "/model")
            page.wait_for_selector("section[data-model='probe'] table.confusion")
            status, view = server.request("GET", "/api/model-view")
            assert status == 200
            (probe,) = view["evaluations"]
            assert probe["labels"] == 40 and probe["folds"] == 5
            section = page.locator("section[data-model='probe']")
            rows = section.locator("table.scores tr").all()
            assert len(rows) == 1 + len(TREC_LABELS)
            for row, entry in zip(rows[1:], probe["per_label"], strict=True):
                cells = row.locator("td").all_inner_texts()
                assert cells == [entry["label"], f"{entry['precision']:.3f}", f"{entry['recall']:.3f}",
                                 f"{entry['f1']:.3f}", str(entry["support"])]
            # The most frequent confusion of the API, and a diagonal cell, as the page shows them.
            matrix = probe["confusion"]
            off = [(a, b) for a in range(6) for b in range(6) if a != b]
            i, j = max(off, key=lambda ab: matrix[ab[0]][ab[1]])
            for a, b in ((i, j), (i, i)):
                where = f"td[data-given='{TREC_LABELS[a]}'][data-predicted='{TREC_LABELS[b]}']"
                assert section.locator(where).inner_text() == str(matrix[a][b])
            assert page.locator("#history polyline[data-model='probe']").count() == 1
            annotators = page.locator("#annotators-rows tr").all()
            assert [r.locator("th").inner_text() for r in annotators] == ["ann", "bob"]
            assert [r.locator("td").last.inner_text() for r in annotators] == ["30", "10"]
            browser.close()
    finally:
        assert server.stop() == 0
    assert not missing, f"requests answered 404: {missing}"


EMOTIONS = ("admiration", "amusement", "gratitude", "joy", "sadness", "neutral")


def goemotions_csv(data_dir, path, n: int) -> dict[str, list[str]]:
    """The first ``n`` GoEmotions training comments whose labels are all among :data:`EMOTIONS`
    (columns text, gold); returns text → gold label set, in EMOTIONS' order."""
    import csv

    gold: dict[str, list[str]] = {}
    with open(data_dir / "goemotions" / "train.jsonl", encoding="utf-8") as source:
        for line in source:
            record = json.loads(line)
            if set(record["labels"]) <= set(EMOTIONS) and record["text"] not in gold:
                gold[record["text"]] = [e for e in EMOTIONS if e in record["labels"]]
            if len(gold) == n:
                break
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "gold"])
        writer.writerows((text, json.dumps(labels)) for text, labels in gold.items())
    return gold


def checked(page) -> list[str]:
    return page.eval_on_selector_all("input.choice", "boxes => boxes.filter(b => b.checked)"
                                                     ".map(b => b.dataset.label)")


def test_a_multi_label_project_with_check_boxes_and_the_same_keys(tmp_path, data_dir):
    """GoEmotions comments in a --multi-label project: number keys check and uncheck boxes, Enter
    saves the set; the boxes start at the probe's suggestion once it suggests; undo brings the
    set back; the export holds the sets given, and the final model predicts label lists."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (run .ci/install-browser.sh, or set PEFTAL_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    gold = goemotions_csv(data_dir, tmp_path / "comments.csv", 60)
    key_of = {label: str(n + 1) for n, label in enumerate(EMOTIONS)}
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "comments.csv"), "--labels", ",".join(EMOTIONS),
                    "--multi-label", "--query-size", "1000", "--cv-folds", "0", "--max-length", "32",
                    "--epochs", "2")
    given: dict[int, list[str]] = {}
    prechecked: list[bool] = []  # whether the boxes a text arrived with were its suggestion
    missing: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.on("response", lambda answer: missing.append(answer.url) if answer.status == 404 else None)
            page.set_default_timeout(90_000)
            page.goto(server.url + "/")
            page.fill("#annotator", "Alice")
            page.press("#annotator", "Enter")
            assert page.locator("input.choice").count() == len(EMOTIONS)
            assert page.locator("button.label").count() == 0
            undone = False
            while len(given) < 16:
                example_id, text = shown(page)
                if len(given) >= 8 and not any(prechecked):
                    page.wait_for_selector("#suggestion:not([hidden])", timeout=180_000)
                    assert "linear probe" in page.inner_text("#suggestion")
                if page.is_visible("#suggestion"):  # read in one go: a new suggestion may come
                    prechecked.append(page.evaluate(
                        "() => JSON.stringify([...document.querySelectorAll('input.choice')]"
                        ".filter(b => b.checked).map(b => b.dataset.label)) === "
                        "document.getElementById('suggestion').dataset.labels"))
                for label in EMOTIONS:  # toggle the boxes to the gold set with the number keys
                    if (label in checked(page)) != (label in gold[text]):
                        page.keyboard.press(key_of[label])
                assert checked(page) == gold[text]
                if len(given) == 3 and not undone:
                    press(page, "Enter", leaving=example_id)
                    press(page, "u", leaving=-1)  # undo: the text comes back with its set checked
                    assert shown(page)[0] == example_id and checked(page) == gold[text]
                    undone = True
                press(page, "Enter", leaving=example_id)
                given[example_id] = gold[text]
            browser.close()
        run_cli("label", "export", str(project), "--output", str(tmp_path / "labels.jsonl"))
    finally:
        assert server.stop() == 0
    assert not missing, f"requests answered 404: {missing}"
    assert prechecked and all(prechecked), "the boxes did not start at the suggestion"
    rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert {row["id"]: row["labels"] for row in rows} == given
    run_cli("label", "train", str(project), "--out", str(tmp_path / "run"), "--no-progress")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["task"] == "multilabel" and summary["num_labeled"] == 16
    run_cli("predict", "--run", str(tmp_path / "run"), "--input", str(tmp_path / "comments.csv"),
            "--output", str(tmp_path / "predicted.jsonl"))
    predicted = [json.loads(line) for line in (tmp_path / "predicted.jsonl").read_text().splitlines()]
    assert len(predicted) == len(gold)
    assert all(isinstance(row["labels"], list) and set(row["labels"]) <= set(EMOTIONS) for row in predicted)


def test_a_name_entered_while_the_project_still_loads_starts_labelling(tmp_path, data_dir):
    """A slow server: /api/project is held back while the name is typed and entered (the page must
    neither lose it nor reload), and the first text shows once the project has loaded."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (run .ci/install-browser.sh, or set PEFTAL_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    trec_csv(data_dir, tmp_path / "questions.csv", 20)
    server = Server(tmp_path / "project", "--data", str(tmp_path / "questions.csv"), "--labels",
                    ",".join(TREC_LABELS), "--no-trainer")
    loads: list[str] = []
    held: list = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.on("load", lambda _: loads.append(page.url))
            page.route("**/api/project", lambda route: held.append(route))  # answered when continued below
            page.goto(server.url + "/", wait_until="domcontentloaded")
            while not held:
                page.wait_for_timeout(50)
            page.fill("#annotator", "Alice")
            page.press("#annotator", "Enter")  # before /api/project has answered
            page.wait_for_timeout(500)
            held[0].continue_()
            example_id, text = shown(page)
            assert len(loads) == 1 and page.url == server.url + "/"  # not reloaded
            assert "Labelling as Alice" in page.inner_text("body")
            browser.close()
    finally:
        assert server.stop() == 0
    assert text and example_id >= 0
