"""The web chat in headless Chromium on the real model, and `/ask` against `qa ask --json`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, SHARED_EVAL

from qa.app import build_demo, launch_options
from qa.assistant import Assistant

pytestmark = pytest.mark.model

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
QUESTION = "Which messaging app do the women use for their closed discussion groups?"
XSS = "<img src=x onerror=alert(1)>"
ANSWERS = "#qa-chat .qa-conf"  # one per answer bubble


@dataclass
class Served:
    url: str
    index_dir: Path
    assistant: Assistant


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(assistant: Assistant, port: int):
    demo = build_demo(assistant)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                            quiet=True, **launch_options())  # fmt: skip
    return demo, url


@pytest.fixture(scope="module")
def served(tmp_path_factory, real_embedder) -> Iterator[Served]:
    index_dir = tmp_path_factory.mktemp("web") / "index"
    assistant = Assistant.from_paths(
        [SEEDS], index_dir=index_dir, embedder=real_embedder, progress=False
    )
    demo, url = launch(assistant, free_port())
    try:
        yield Served(url, index_dir, assistant)
    finally:
        demo.close()


@pytest.fixture
def page(served):
    with browser_page(served.url) as page:
        yield page


@contextmanager
def browser_page(url: str):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.dialogs = []  # any alert() here would mean document text ran as markup
        page.accept_confirm = False  # confirm() asks before a removal; cancelled unless set

        def answer(dialog):
            page.dialogs.append(dialog.message)
            if dialog.type == "confirm" and page.accept_confirm:
                dialog.accept()
            else:
                dialog.dismiss()

        page.on("dialog", answer)
        page.goto(url)
        page.locator("#qa-question textarea").wait_for()
        try:
            yield page
        finally:
            browser.close()


def ask(page, question: str) -> None:
    before = page.locator(ANSWERS).count()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('{ANSWERS}').length > {before}", timeout=30_000
    )


def mark_is_visible_in_its_box(page) -> bool:
    return page.evaluate("""() => {
        const box = document.querySelector('#qa-document .qa-doc-text');
        const mark = box && box.querySelector('mark');
        if (!mark) return false;
        const b = box.getBoundingClientRect(), m = mark.getBoundingClientRect();
        return m.top >= b.top && m.top < b.bottom;
    }""")


@pytest.mark.browser
def test_a_cited_answer_and_its_source_in_the_document(page):
    ask(page, QUESTION)
    bubble = page.locator("#qa-chat .qa-answer").last
    assert "Vyber" in bubble.inner_text()
    assert bubble.locator("sup.qa-ref").first.inner_text() == "[1]"
    first = page.locator("#qa-sources .qa-cite").first
    assert "Vyber" in first.locator("mark").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

    first.click()
    mark = page.locator("#qa-document mark")
    mark.wait_for()
    assert mark.inner_text() == first.locator("mark").inner_text()
    page.wait_for_timeout(300)  # the scroll runs after the view re-renders
    assert mark_is_visible_in_its_box(page)
    page.screenshot(path=str(ARTIFACTS / "source.png"), full_page=True)

    # Later citations open too, each with its own span marked.
    page.locator("#qa-sources .qa-cite").nth(1).click()
    second = page.locator("#qa-sources .qa-cite").nth(1).locator("mark").inner_text()
    page.wait_for_function(
        "t => document.querySelector('#qa-document mark')?.innerText === t", arg=second
    )
    assert mark_is_visible_in_its_box(page)


def mark_is_in_the_window(page) -> bool:
    return page.evaluate("""() => {
        const m = document.querySelector('#qa-document mark').getBoundingClientRect();
        return m.top >= 0 && m.bottom <= window.innerHeight;
    }""")


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_selecting_a_source_scrolls_its_highlight_into_view(page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    ask(page, QUESTION)
    page.evaluate("window.scrollTo(0, 0)")
    # By keyboard: focus the card and press Enter.
    first = page.locator("#qa-sources .qa-cite").first
    first.focus()
    page.keyboard.press("Enter")
    page.locator("#qa-document mark").wait_for()
    page.wait_for_timeout(300)  # the scroll runs after the view re-renders
    assert page.evaluate("window.scrollY") > 0  # the view sits below the sources here
    assert mark_is_in_the_window(page) and mark_is_visible_in_its_box(page)
    page.screenshot(path=str(ARTIFACTS / f"source_{width}.png"))

    # Selecting the open source again, after scrolling away, brings it back.
    page.evaluate("window.scrollTo(0, 0)")
    first.click()
    page.wait_for_timeout(300)
    assert mark_is_in_the_window(page) and mark_is_visible_in_its_box(page)


def document_shows(page, card) -> None:
    """Wait until the document view highlights `card`'s excerpt, with `card` selected."""
    page.wait_for_function(
        "t => document.querySelector('#qa-document mark')?.innerText === t",
        arg=card.locator("mark").inner_text(),
    )
    assert page.locator("#qa-sources .is-selected").evaluate_all(
        "(cards) => cards.map((c) => c.dataset.cite)"
    ) == [card.get_attribute("data-cite")]


@pytest.mark.browser
def test_the_latest_answers_markers_open_their_sources(page):
    page.set_viewport_size({"width": 1366, "height": 768})
    ask(page, "Who is Ailana?")
    ask(page, QUESTION)
    answers = page.locator("#qa-chat .qa-answer")
    earlier, latest = answers.nth(answers.count() - 2), answers.last
    latest.locator("sup.qa-ref[role=button]").first.wait_for()
    cards = page.locator("#qa-sources .qa-cite")
    assert latest.locator("sup.qa-ref[role=button]").count() == cards.count() >= 2

    # An earlier answer's sources are no longer beside the chat: its markers are plain text.
    old = earlier.locator("sup.qa-ref").first
    assert old.get_attribute("role") is None and old.get_attribute("tabindex") is None
    old.click()
    page.wait_for_timeout(500)
    assert page.locator("#qa-document mark").count() == 0
    assert page.locator("#qa-sources .is-selected").count() == 0

    # A click on [2] opens source [2] as its card would, scrolled into sight.
    page.evaluate("window.scrollTo(0, 0)")
    latest.locator("sup.qa-ref", has_text="[2]").click()
    document_shows(page, cards.nth(1))
    page.wait_for_timeout(300)  # the scroll runs after the view re-renders
    assert mark_is_in_the_window(page) and mark_is_visible_in_its_box(page)
    page.screenshot(path=str(ARTIFACTS / "marker_1366.png"))

    # By keyboard: Enter on [1], then Tab to [2] and Space.
    latest.locator("sup.qa-ref", has_text="[1]").focus()
    page.keyboard.press("Enter")
    document_shows(page, cards.nth(0))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "[2]"
    page.keyboard.press(" ")
    document_shows(page, cards.nth(1))

    # After an abstention the cards beside are closest passages, which no marker names.
    ask(page, "What is the capital city of Tyva?")
    assert page.locator("#qa-chat [data-testid=bot]").last.locator(".qa-abstain").count() == 1
    page.wait_for_function("!document.querySelector('#qa-chat .qa-ref[role=button]')")


@pytest.mark.browser
def test_names_for_assistive_technology(page):
    assert page.title() == "Ask the documents · qa"
    assert page.get_by_role("textbox", name="Question").count() == 1
    question = "Is <b>Vyber</b> & *secure*?"
    ask(page, question)
    user = page.locator("#qa-chat [data-testid=user]").last
    bot = page.locator("#qa-chat [data-testid=bot]").last
    page.wait_for_function(
        "el => el.getAttribute('aria-label').includes('confidence')", arg=bot.element_handle()
    )
    assert user.get_attribute("aria-label") == f"user's message: {question}"
    label = bot.get_attribute("aria-label")
    assert label == f"bot's message: {bot.inner_text().strip()}"
    assert "&#" not in label and "<div" not in label and "<sup" not in label


@pytest.mark.browser
def test_a_phone_screen_fits_the_documents_and_nothing_covers_the_chat(page):
    page.set_viewport_size({"width": 390, "height": 844})
    for question in (QUESTION, "Who is Ailana?", "Who heads the rights group Free Buryatia?"):
        ask(page, question)
    # Scrolled a little, the chat's top line must be a message, not a badge over it.
    top_is_message = page.evaluate("""() => {
        const log = document.querySelector('#qa-chat [role=log]');
        log.scrollTop = 40;
        const r = log.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + 24, r.top + 6);
        return log.contains(hit);
    }""")
    assert top_is_message
    page.screenshot(path=str(ARTIFACTS / "chat_390.png"))

    page.get_by_role("tab", name="Documents").click()
    table = page.locator("#qa-documents table")
    table.wait_for()
    box, panel = table.bounding_box(), page.locator("#qa-documents").bounding_box()
    assert box["x"] >= panel["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "documents_390.png"), full_page=True)


@pytest.mark.browser
def test_examples_follow_ups_and_abstentions(page):
    page.locator("#qa-examples button", has_text="Who is Ailana?").click()
    page.locator(ANSWERS).first.wait_for(timeout=30_000)
    ask(page, "What is the capital city of Tyva?")
    abstained = page.locator("#qa-chat .qa-abstain").last
    assert "No confident answer in the documents." in abstained.inner_text()
    assert "Closest passages — not an answer" in page.locator("#qa-sources").inner_text()
    assert page.locator("#qa-sources .qa-cite").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "abstain.png"), full_page=True)
    page.get_by_role("button", name="New chat").click()
    page.wait_for_function(f"document.querySelectorAll('{ANSWERS}').length === 0")
    assert "appear here" in page.locator("#qa-sources").inner_text()


@pytest.mark.browser
def test_examples_only_beside_the_article_they_ask_about(tmp_path, real_embedder):
    # Over other documents the examples, all about the seed article, would only abstain.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.txt").write_text(
        "Harbour notes\n\nThe harbour gate was painted blue in 1911. "
        "The lighthouse keeper was named Tobias Brand.\n"
    )
    assistant = Assistant.from_paths(
        [docs], index_dir=tmp_path / "index", embedder=real_embedder, progress=False
    )
    demo, url = launch(assistant, free_port())
    try:
        with browser_page(url) as page:
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            examples = page.locator("#qa-examples button")
            assert examples.count() == 0
            # Without them, a question still locks the page and unlocks it once answered.
            box = page.locator("#qa-question textarea")
            ask(page, "What colour was the harbour gate painted?")
            page.wait_for_function("!document.querySelector('#qa-question textarea').disabled")
            ask(page, "Who was the lighthouse keeper?")
            assert page.locator(ANSWERS).count() == 2 and not box.is_disabled()

            # The seed article uploaded brings them, and removing it takes them away again.
            page.get_by_role("tab", name="Documents").click()
            page.locator("#qa-upload input[type=file]").set_input_files(
                str(next(SEEDS.glob("*.txt")))
            )
            page.locator("#qa-status", has_text="Added").wait_for(timeout=60_000)
            page.get_by_role("tab", name="Chat").click()
            examples.filter(has_text="Who is Ailana?").wait_for()
            page.get_by_role("tab", name="Documents").click()
            page.get_by_label("Remove a document").click()
            page.get_by_role("option", name=next(SEEDS.glob("*.txt")).name).click()
            page.accept_confirm = True
            page.locator("#qa-remove").click()
            page.locator("#qa-status", has_text="Removed").wait_for()
            page.get_by_role("tab", name="Chat").click()
            page.wait_for_function("!document.querySelector('#qa-examples button')")
            assert errors == []
    finally:
        demo.close()


@pytest.mark.browser
def test_the_page_shows_no_path_on_the_server(page, served):
    # Anyone with the link sees the page: documents go by their path from the folder served.
    assert served.assistant.documents[0].id.startswith(str(SEEDS))  # served by absolute path
    ask(page, QUESTION)
    card = page.locator("#qa-sources .qa-cite").first
    assert card.get_attribute("title").startswith("Show in seeds/")
    card.click()
    page.locator("#qa-document mark").wait_for()
    page.get_by_role("tab", name="Documents").click()
    assert page.locator("#qa-documents td").first.get_attribute("title").startswith("seeds/")
    seen = page.content() + page.evaluate("JSON.stringify(window.gradio_config)")
    assert str(ROOT) not in seen


@pytest.mark.browser
def test_a_typed_question_and_an_example_never_drop_one_another(page, served, monkeypatch):
    # Each answer is computed on the chat the page sent with its question. A typed question
    # and an example in flight at once were each answered beside a chat without the other,
    # and the later answer dropped the first from the chat and from the history.
    answer_now = served.assistant.ask

    def slow(question, history=None):  # time to act while a question is answered
        time.sleep(1)
        return answer_now(question, history)

    monkeypatch.setattr(served.assistant, "ask", slow)
    box = page.locator("#qa-question textarea")
    example = page.locator("#qa-examples button", has_text="Who is Ailana?")
    box.fill(QUESTION)
    box.press("Enter")
    # While it is answered, the examples are plainly refused, and so is another question.
    example_state = example.evaluate(
        "e => [e.getAttribute('aria-disabled'), Number(getComputedStyle(e).opacity)]"
    )
    locked = box.is_disabled() and page.locator("#qa-ask").is_disabled()
    example.click(force=True)  # as a reader would, on the dimmed button
    page.locator(ANSWERS).first.wait_for(timeout=30_000)
    page.wait_for_function("!document.querySelector('#qa-question textarea').disabled")
    page.wait_for_timeout(1500)  # a second answer, had the click asked, would be in by now
    users = page.locator("#qa-chat [data-testid=user]")
    assert users.all_inner_texts() == [QUESTION] and page.locator(ANSWERS).count() == 1
    assert example_state[0] == "true" and example_state[1] < 1 and locked
    assert example.get_attribute("aria-disabled") is None
    assert page.evaluate("document.activeElement") == box.evaluate("b => b")  # ready to type

    # Once answered, the example is asked, then a question typed as soon as the box allows:
    # each gets its own answer, in order, and the follow-up knows whom "she" is.
    example.click()
    assert box.is_disabled()
    box.fill("Where is she from?")  # waits until the example is answered
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('{ANSWERS}').length === 3")
    assert users.all_inner_texts() == [QUESTION, "Who is Ailana?", "Where is she from?"]
    assert "Tyva" in page.locator("#qa-chat .qa-answer").last.inner_text()


@pytest.mark.browser
def test_a_keyboard_user_who_pressed_ask_keeps_their_place(page):
    """Ask pressed from the keyboard is disabled while answering, which took its focus: the
    reader was back at the top of the page, to tab down again."""
    page.locator("#qa-question textarea").fill(QUESTION)
    ask_button = page.locator("#qa-ask")
    ask_button.focus()
    page.keyboard.press("Enter")
    page.locator(ANSWERS).first.wait_for(timeout=30_000)
    page.wait_for_function("!document.querySelector('#qa-ask').disabled")
    page.wait_for_function("document.activeElement === document.querySelector('#qa-ask')")


@pytest.mark.browser
def test_a_follow_up_and_its_sources_outlive_a_server_restart(served):
    # The conversation and the latest answer's sources are kept in the page, with the chat
    # they belong to: a restarted server (or one that evicted this session's state) still
    # answers the follow-up and opens the sources the page shows.
    port = free_port()
    demo, url = launch(served.assistant, port)
    with browser_page(url) as page:
        try:
            ask(page, "Who is Ailana?")
        finally:
            demo.close()
        demo, _ = launch(served.assistant, port)
        try:
            first = page.locator("#qa-sources .qa-cite").first
            first.click()
            page.wait_for_function(
                "t => document.querySelector('#qa-document mark')?.innerText === t",
                arg=first.locator("mark").inner_text(),
            )
            ask(page, "Where is she from?")
            assert "Tyva" in page.locator("#qa-chat .qa-answer").last.inner_text()
        finally:
            demo.close()


def cli_answer(index_dir: Path, question: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "qa.cli", "--index-dir", str(index_dir), "ask", question, "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def dev_questions() -> list[str]:
    path = SHARED_EVAL / "article_qa_dev.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found (set QA_SHARED_EVAL)")
    rows = [json.loads(line) for line in path.open()]
    picked = {"d01", "d05", "d08", "d20"}  # answered ones and an abstention
    return [r["question"] for r in rows if r["id"] in picked and not r.get("history")]


def test_the_ask_endpoint_returns_what_qa_ask_json_prints_named_as_the_page_does(served):
    from gradio_client import Client

    client = Client(served.url, verbose=False)
    questions = dev_questions()
    assert len(questions) == 4
    for question in questions:
        printed = cli_answer(served.index_dir, question)
        for cited in printed["citations"] + printed["closest"]:
            # Named as the page names them, by their path from the folder served: anyone
            # with the link may call the API, so no path on the server.
            cited["document"] = "seeds/" + Path(cited["document"]).name
        assert client.predict(question, [], api_name="/ask") == printed
    follow_up = client.predict(
        "Where did her son call her from before the invasion?",
        [{"role": "user", "content": "Who is Ailana?"}],
        api_name="/ask",
    )
    assert "Ailana" in follow_up["question"]


@pytest.mark.browser
def test_upload_shows_markup_as_text_then_remove_after_confirming(page, served, tmp_path):
    notes = tmp_path / "harbour_notes.txt"
    notes.write_text(
        f"Harbour notes\n\nSomeone wrote {XSS} on the harbour gate in 1907.\n\n"
        "The lighthouse keeper was named Tobias *Brand* and he painted the lighthouse red.\n"
    )
    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(notes))
    page.locator("#qa-status", has_text="Added harbour_notes.txt").wait_for(timeout=60_000)
    assert "harbour_notes.txt" in page.locator("#qa-documents").inner_text()
    page.screenshot(path=str(ARTIFACTS / "documents.png"), full_page=True)

    page.get_by_role("tab", name="Chat").click()
    ask(page, "What was written on the harbour gate?")
    card = page.locator("#qa-sources .qa-cite", has_text="harbour_notes.txt").first
    card.click()
    page.locator("#qa-document mark").wait_for()
    view = page.locator("#qa-document")
    assert XSS in view.inner_text() and "*Brand*" in view.inner_text()
    assert page.locator("#qa-document img, #qa-sources img, #qa-chat img").count() == 0
    assert page.dialogs == []
    page.screenshot(path=str(ARTIFACTS / "markup_as_text.png"), full_page=True)

    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-documents", has_text="harbour_notes.txt").wait_for()
    page.get_by_label("Remove a document").click()
    page.get_by_role("option", name="harbour_notes.txt").click()
    # Removing is for everyone, so the browser asks first; cancelling changes nothing.
    remove = page.locator("#qa-remove")
    remove.click()
    page.wait_for_timeout(500)
    assert page.dialogs == [
        "Remove harbour_notes.txt from the collection for everyone using this app?"
    ]
    assert "harbour_notes.txt" in page.locator("#qa-documents").inner_text()
    assert "Added harbour_notes.txt" in page.locator("#qa-status").inner_text()
    assert page.get_by_text("Error", exact=True).count() == 0
    assert "harbour_notes.txt" in [d.id for d in served.assistant.documents]

    page.accept_confirm = True  # and by keyboard, accepted
    remove.focus()
    page.keyboard.press("Enter")
    page.locator("#qa-status", has_text="Removed harbour_notes.txt").wait_for()
    assert len(page.dialogs) == 2
    assert "harbour_notes.txt" not in page.locator("#qa-documents").inner_text()
    assert [
        d.id for d in Assistant.load(served.index_dir, embedder=served.assistant.embedder).documents
    ] == [d.id for d in served.assistant.documents]


@pytest.mark.browser
def test_a_bad_upload_shows_why_and_changes_nothing(page, served, tmp_path):
    before = [d.id for d in served.assistant.documents]
    fake = tmp_path / "photo.txt"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(fake))
    status = page.locator("#qa-status", has_text="photo.txt looks like a binary file")
    status.wait_for(timeout=30_000)
    assert "The collection is unchanged" in status.inner_text()
    assert page.get_by_text("Error", exact=True).count() == 0  # a notice, not error badges
    page.screenshot(path=str(ARTIFACTS / "bad_upload.png"), full_page=True)
    assert [d.id for d in served.assistant.documents] == before


@pytest.mark.browser
def test_the_status_line_says_what_became_of_the_latest_files(page, served, tmp_path):
    # The page refuses some files itself (a type not listed, a file over 20 MB) and sends
    # nothing; the status line kept the message of an earlier action.
    before = [d.id for d in served.assistant.documents]
    status = page.locator("#qa-status")
    picker = page.locator("#qa-upload input[type=file]")
    photo, program = tmp_path / "photo.txt", tmp_path / "program.exe"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    program.write_bytes(b"MZ\x90\x00")
    page.get_by_role("tab", name="Documents").click()
    picker.set_input_files(str(photo))  # refused by the server
    status.filter(has_text="photo.txt looks like a binary file").wait_for(timeout=30_000)

    picker.set_input_files(str(program))
    status.filter(has_text="program.exe: files of type .exe cannot be added").wait_for()
    assert "The collection is unchanged" in status.inner_text()
    big = tmp_path / "big.md"
    with big.open("wb") as f:
        f.truncate(20 * 2**20 + 1)
    picker.set_input_files(str(big))
    status.filter(has_text="big.md is over the 20 MB limit per file").wait_for()
    assert [d.id for d in served.assistant.documents] == before

    # What the page sends is reported when added, never overtaken by what it left out.
    notes = tmp_path / "gate_notes.txt"
    notes.write_text("The harbour gate was painted blue in 1911.")
    picker.set_input_files([str(program), str(notes)])
    status.filter(has_text="Added gate_notes.txt").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    assert status.inner_text().startswith("Added gate_notes.txt")
    served.assistant.remove("gate_notes.txt")
