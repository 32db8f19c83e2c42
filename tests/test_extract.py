"""Text from HTML, PDF and Word files, and the checks every uploaded file passes first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import docx
import pytest

from qa.errors import QAError
from qa.extract import clean_title, docx_text, extract, html_text, pdf_text, read_upload, tidy
from qa.ingest import read_paths


def make_pdf(lines: list[str], title: str = "", more_pages: Sequence[list[str]] = ()) -> bytes:
    """A PDF with `lines` of Helvetica text on its first page, and `more_pages`, written by
    hand (no PDF writer needed)."""

    def lit(s: str) -> str:
        return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    pages = [lines, *more_pages]
    n = len(pages)
    # 1 catalog, 2 page tree, 3 font, 4 info, then each page and its contents
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(n))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title {lit(title)} >>",
    ]
    for i, page in enumerate(pages):
        ops = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"{lit(x)} Tj T*" for x in page) + " ET"
        objects += [
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {6 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>",
            f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream",
        ]
    out, offsets = "%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\n"
    return (out + f"startxref\n{xref}\n%%EOF\n").encode("latin-1")


def make_docx(
    paragraphs: list[str], title: str = "", table: list[list[str]] | None = None
) -> bytes:
    import io

    d = docx.Document()
    d.core_properties.title = title
    for p in paragraphs:
        d.add_paragraph(p)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
        d.add_paragraph("After the table.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


PAGE = b"""<!doctype html><html><head><title>Harbour history</title>
<style>p { color: red }</style><script>alert("no")</script></head>
<body><nav>Home</nav><h1>The harbour</h1>
<p>The harbour opened in <a href="/y">1907</a>, after <em>years</em> of work.<br>It is deep.</p>
<table><tr><th>Year</th><th>Ships</th></tr><tr><td>1907</td><td>12</td></tr></table>
<noscript>Enable JavaScript</noscript></body></html>"""


def test_html_keeps_visible_text_in_paragraphs():
    text, title = html_text(PAGE)
    assert title == "Harbour history"
    assert text == (
        "The harbour\n\nThe harbour opened in 1907, after years of work.\n"
        "It is deep.\n\nYear | Ships\n\n1907 | 12"
    )


# Realistic pages: what a reader sees as the page's text, without its navigation, banner,
# sidebars, forms and footer; the headline (the <h1>) comes first.
NEWS = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Harbour ferry service to resume in May | Kestle Bay Gazette</title></head><body>
<a class="skip-link" href="#content">Skip to content</a>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>
<header class="site-header">
  <a href="/" class="logo">Kestle Bay Gazette</a>
  <nav aria-label="Sections"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
  <li><a href="/sport">Sport</a></li></ul></nav>
  <form role="search" action="/search"><label for="q">Search</label><input id="q"></form>
</header>
<main id="content">
  <nav aria-label="Breadcrumb"><ol><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ol></nav>
  <article>
    <header>
      <h1>Harbour ferry service to resume in May</h1>
      <p class="byline">By Jonas Feld, <time datetime="2024-03-12">12 March 2024</time></p>
    </header>
    <p>The ferry between Kestle Bay and Skerry Island will resume on 6 May, the operator
    Bayline said on Tuesday.</p>
    <figure><img src="osprey.jpg" alt=""><figcaption>The Osprey in Bergen.</figcaption></figure>
    <p>Bayline bought the <em>Osprey</em> from an operator in Norway for &pound;1.9 million.</p>
    <aside class="share"><a href="#">Share on Facebook</a> <a href="#">Share by email</a></aside>
    <p>A single adult fare will rise from &pound;6.50 to &pound;7.20.</p>
  </article>
  <aside class="related"><h2>Related stories</h2><ul><li><a href="/p">Pier repairs end</a></li>
  </ul></aside>
  <section class="newsletter"><form action="/subscribe"><h2>The Gazette by email</h2>
  <input type="email"><button>Sign up</button></form></section>
</main>
<footer><p>&copy; 2024 Kestle Bay Gazette</p><nav><a href="/privacy">Privacy</a></nav></footer>
</body></html>"""

# WordPress-like: the post and each comment are articles, so the whole <main> is read.
BLOG = """<!doctype html><html><head><title>Why we switched to rye &ndash; Flour &amp; Salt</title>
</head><body class="single-post"><div id="page" class="site">
<header id="masthead" class="site-header" role="banner">
  <p class="site-title"><a href="/">Flour &amp; Salt</a></p>
  <p class="site-description">Notes from a small bakery</p>
  <nav id="site-navigation"><a href="/">Home</a> <a href="/about">About</a></nav>
</header>
<div id="content" class="site-content">
<main id="primary" class="site-main">
  <article id="post-12" class="post">
    <header class="entry-header"><h1 class="entry-title">Why we switched to rye</h1>
    <div class="entry-meta">Posted on 3 February 2024 by Telma</div></header>
    <div class="entry-content">
      <p>Rye flour keeps our loaves moist for four days instead of two.</p>
      <p>It also comes from a mill twelve kilometres away.</p>
    </div>
    <footer class="entry-footer">Posted in Baking</footer>
  </article>
  <nav class="post-navigation"><a href="/starters">Previous post: Sourdough starters</a></nav>
  <div id="comments" class="comments-area">
    <h2 class="comments-title">One thought on &ldquo;Why we switched to rye&rdquo;</h2>
    <ol class="comment-list"><li><article class="comment-body">
      <footer class="comment-meta"><b>Olle</b> says:</footer>
      <div class="comment-content"><p>Best loaf in town.</p></div>
    </article></li></ol>
    <div id="respond"><h3>Leave a Reply</h3><form id="commentform">
      <p class="comment-notes">Your email address will not be published.</p>
      <textarea name="comment"></textarea><input type="submit" value="Post Comment"></form></div>
  </div>
</main>
<aside id="secondary" class="widget-area"><section class="widget"><h2>Recent Posts</h2>
<ul><li><a href="/starters">Sourdough starters</a></li></ul></section></aside>
</div>
<footer id="colophon" class="site-footer"><div class="site-info">Proudly powered by WordPress
</div></footer></div></body></html>"""

# The title stands above <main>, outside it; the sidebar is a plain <div>.
REPORT = """<html><head><title>Annual report 2023 - Brennick Council</title></head><body>
<div class="top-links"><a href="/">Brennick Council</a> <a href="/contact">Contact us</a></div>
<div class="page-title"><h1>Annual report 2023</h1></div>
<main>
<h2>Spending</h2>
<p>The council spent &pound;41 million in 2023, two million more than it planned.</p>
<p>Most of the difference went on repairs to the harbour wall after the January storm.</p>
<h2>Housing</h2>
<p>It built 64 homes for rent, and bought back 12 it had sold in the 1990s.</p>
</main>
<div class="sidebar"><h3>Quick links</h3><ul><li>Pay council tax</li><li>Report a pothole</li>
</ul></div></body></html>"""

# An old page laid out with plain <div>s and no semantic tags: all of it is read.
PLAIN = """<html><head><title>Ostvik choir</title></head><body>
<div id="menu"><a href="/">Home</a> | <a href="/minutes">Minutes</a></div>
<div id="main"><h1>Ostvik choir</h1><p>The choir meets on Thursdays at eight.</p>
<p>New singers are welcome; no audition is needed.</p></div>
<div id="foot">Last updated 2019</div></body></html>"""

# ASP.NET Web Forms wrap the whole body in one <form>: it holds the text, so it is read.
WEBFORMS = """<html><body><form method="post" action="./Default.aspx" id="form1">
<div class="aspNetHidden"><input type="hidden" name="__VIEWSTATE" value="x"></div>
<div id="top"><a href="/">Brennick Council</a></div>
<h1>Bin collections</h1><p>Bins are collected every second Monday.</p></form></body></html>"""

# The one <article> is a small card beside the page's real text: the whole page is read.
CARD = """<html><body><div class="content"><h1>Marsh Lane Bakery</h1>
<p>Marsh Lane Bakery opened in 2004 and bakes every night except Sunday.</p>
<p>Its owner, Telma Quist, trained in Bergen and sells rye bread and cinnamon buns.</p></div>
<div class="promo"><article><h3>Also in town</h3><p>The choir sings on Friday.</p></article>
</div></body></html>"""

# The headline stands in the page's banner, which is otherwise left out.
BANNER_HEADLINE = """<html><body><header><h1>Ostvik choir</h1><nav><a href="/">Home</a></nav>
</header><p>The choir meets on Thursdays at eight.</p><footer>&copy; 2024</footer></body></html>"""


@pytest.mark.parametrize(
    ("page", "text"),
    [
        (
            NEWS,
            "Harbour ferry service to resume in May\n\nBy Jonas Feld, 12 March 2024\n\n"
            "The ferry between Kestle Bay and Skerry Island will resume on 6 May, the operator\n"
            "Bayline said on Tuesday.\n\nThe Osprey in Bergen.\n\n"
            "Bayline bought the Osprey from an operator in Norway for £1.9 million.\n\n"
            "A single adult fare will rise from £6.50 to £7.20.",
        ),
        (
            BLOG,
            "Why we switched to rye\n\nPosted on 3 February 2024 by Telma\n\n"
            "Rye flour keeps our loaves moist for four days instead of two.\n\n"
            "It also comes from a mill twelve kilometres away.\n\nPosted in Baking\n\n"
            "One thought on “Why we switched to rye”\n\nOlle says:\n\nBest loaf in town.\n\n"
            "Leave a Reply",
        ),
        (
            REPORT,
            "Annual report 2023\n\nSpending\n\n"
            "The council spent £41 million in 2023, two million more than it planned.\n\n"
            "Most of the difference went on repairs to the harbour wall after the January storm."
            "\n\nHousing\n\nIt built 64 homes for rent, and bought back 12 it had sold in the 1990s.",
        ),
        (
            PLAIN,
            "Home | Minutes\n\nOstvik choir\n\nThe choir meets on Thursdays at eight.\n\n"
            "New singers are welcome; no audition is needed.\n\nLast updated 2019",
        ),
        (
            WEBFORMS,
            "Brennick Council\n\nBin collections\n\nBins are collected every second Monday.",
        ),
        (
            CARD,
            "Marsh Lane Bakery\n\n"
            "Marsh Lane Bakery opened in 2004 and bakes every night except Sunday.\n\n"
            "Its owner, Telma Quist, trained in Bergen and sells rye bread and cinnamon buns.\n\n"
            "Also in town\n\nThe choir sings on Friday.",
        ),
        (BANNER_HEADLINE, "Ostvik choir\n\nThe choir meets on Thursdays at eight."),
    ],
    ids=["news", "blog", "h1-outside-main", "plain", "webforms", "article-card", "banner-h1"],
)
def test_html_pages_are_read_without_their_furniture(page, text):
    assert html_text(page.encode())[0] == text


@pytest.mark.parametrize(
    "furniture",
    [
        '<nav><a href="/">Home</a> | <a href="/news">News</a></nav>',
        '<header><a href="/">Kestle Bay Gazette</a></header>',
        "<footer>&copy; 2024 Kestle Bay Gazette</footer>",
        "<aside><h2>Most read</h2><p>Pier repairs end.</p></aside>",
        "<form><label>Email</label><input><button>Subscribe</button></form>",
        '<div role="navigation">Home | News</div>',
        '<div role="banner">Kestle Bay Gazette</div>',
        '<div role="contentinfo">&copy; 2024</div>',
        '<div role="search"><label>Search the site</label></div>',
        '<ul role="Navigation menubar"><li>Home</li></ul>',
        "<script>var tracking = 1;</script><style>p { color: red }</style>",
        "<template><p>Loading</p></template><noscript>Enable JavaScript</noscript>",
        "<select><option>English</option><option>Norsk</option></select>",
    ],
)
def test_page_furniture_is_left_out(furniture):
    page = f"<html><body>{furniture}<p>Kept.</p>{furniture}</body></html>"
    assert html_text(page.encode())[0] == "Kept."


@pytest.mark.parametrize(
    ("page", "text"),
    [
        (
            "<article><header><h1>Fares rise</h1></header><p>Fares rise in May.</p>"
            "<footer>Filed under Ferries</footer></article>",
            "Fares rise\n\nFares rise in May.\n\nFiled under Ferries",
        ),
        (
            "<section><header><h2>Timetable</h2></header><p>Eight crossings a day.</p>"
            "<footer>Summer only.</footer></section>",
            "Timetable\n\nEight crossings a day.\n\nSummer only.",
        ),
        (
            "<p>She said:</p><blockquote><p>It floats.</p><footer>Ruth Calloway</footer>"
            "</blockquote>",
            "She said:\n\nIt floats.\n\nRuth Calloway",
        ),
        # Navigation and sidebars are left out wherever they stand.
        (
            '<main><nav aria-label="Breadcrumb">Home › Ferries</nav><p>Fares rise.</p>'
            '<aside><a href="#">Share</a></aside><p>Fares fall.</p></main>',
            "Fares rise.\n\nFares fall.",
        ),
        # A page that is nothing but navigation (a site map) is read whole, not refused.
        (
            "<nav><ul><li>Ferries</li><li>Fares</li></ul></nav>",
            "Ferries\n\nFares",
        ),
    ],
    ids=["article", "section", "quotation", "breadcrumb-and-share", "site-map"],
)
def test_headers_and_footers_inside_the_text_are_kept(page, text):
    assert html_text(f"<html><body>{page}</body></html>".encode())[0] == text


def test_html_entities_and_markup_in_text_become_plain_characters():
    text, _ = html_text(b"<p>&lt;img src=x onerror=alert(1)&gt; &amp; caf&eacute;</p>")
    assert text == "<img src=x onerror=alert(1)> & café"


def test_pdf_text_and_title():
    data = make_pdf(
        ["The harbour opened in 1907.", "It closed (briefly) in 1950."], title="Harbour"
    )
    assert pdf_text(data, "h.pdf") == (
        "The harbour opened in 1907.\nIt closed (briefly) in 1950.",
        "Harbour",
    )


def test_docx_paragraphs_and_tables_in_reading_order():
    data = make_docx(
        ["First paragraph.", "Second one."], title="Notes", table=[["a", "b"], ["1", "2"]]
    )
    text, title = docx_text(data, "n.docx")
    assert title == "Notes"
    assert text == "First paragraph.\n\nSecond one.\n\na | b\n\n1 | 2\n\nAfter the table."


def test_docx_merged_cell_is_read_once(monkeypatch):
    """A cell spanning columns is one cell: a hostile span must not repeat its text."""
    import io

    d = docx.Document()
    t = d.add_table(rows=2, cols=3)
    t.cell(0, 0).merge(t.cell(0, 2)).text = "Merged heading"
    for c, value in enumerate(["1", "2", "3"]):
        t.cell(1, c).text = value
    buf = io.BytesIO()
    d.save(buf)
    text, _ = docx_text(buf.getvalue(), "m.docx")
    assert text == "Merged heading\n\n1 | 2 | 3"


def test_docx_that_unpacks_too_large_is_refused(monkeypatch):
    import qa.extract

    monkeypatch.setattr(qa.extract, "MAX_DOCX_UNPACKED", 1000)
    with pytest.raises(QAError, match="unpacks to"):
        docx_text(make_docx(["Some text."]), "z.docx")


def test_html_nested_deeper_than_the_recursion_limit_is_read():
    depth = 20_000
    text, _ = html_text(b"<div>" * depth + b"Deep inside." + b"</div>" * depth)
    assert text == "Deep inside."


def test_html_many_block_siblings_and_table_cells():
    page = b"<body>" + b"<hr>" * 5000 + b"<p>After rules.</p><table><tr>"
    page += b"".join(b"<td>%d</td>" % i for i in range(3)) + b"</tr></table><!-- note --></body>"
    assert html_text(page)[0] == "After rules.\n\n0 | 1 | 2"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", ""),
        ("  one   two\t three ", "one two three"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("x\xa0y\x07z", "x y z"),
        ("ünïcødé — “quotes”", "ünïcødé — “quotes”"),
        ("Zu\u0308rich ofﬁcials ﬂed, af\xadter", "Zürich officials fled, after"),
    ],
)
def test_tidy(raw, clean):
    assert tidy(raw) == clean


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_folders_and_files_of_every_kind_are_read(tmp_path):
    write(tmp_path, "a.html", PAGE)
    write(tmp_path, "b.pdf", make_pdf(["Ships came in 1907."]))
    write(tmp_path, "c.docx", make_docx(["The quay is long."]))
    write(tmp_path, "d.txt", b"Plain words.")
    write(tmp_path, "e.htm", b"<p>Short page.</p>")
    docs = list(read_paths([tmp_path]))
    assert [Path(d.id).name for d in docs] == ["a.html", "b.pdf", "c.docx", "d.txt", "e.htm"]
    assert docs[1].text == "Ships came in 1907."
    assert docs[0].title == "Harbour history"


def test_extract_refuses_a_file_without_text(tmp_path):
    with pytest.raises(QAError, match="no text to index.*OCR"):
        extract(write(tmp_path, "scan.pdf", make_pdf([])))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.txt", b"The harbour opened in 1907."),
        ("notes.md", b"# Harbour\n\nIt opened in 1907."),
        ("page.html", PAGE),
        ("paper.pdf", make_pdf(["The harbour opened in 1907."])),
        ("memo.docx", make_docx(["The harbour opened in 1907."])),
    ],
)
def test_good_uploads_become_documents_named_after_the_file(tmp_path, name, data):
    (doc,) = read_upload(write(tmp_path, name, data))
    assert doc.id == name
    assert "1907" in doc.text


BAD_UPLOADS = [
    ("empty.txt", b"", "is empty"),
    ("blank.md", b" \n\t\n", "no text to index"),
    ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "not a readable PDF"),
    ("broken.docx", b"PK\x03\x04 not a zip archive", "not a readable .docx"),
    ("program.exe", b"MZ\x90\x00", "cannot be added"),
    ("picture.png", b"\x89PNG\r\n\x1a\n", "cannot be added"),
    ("noext", b"hello", "cannot be added"),
    ("disguised.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("disguised.html", b"<p>\x00\x01\x02</p>", "binary file"),
    ("latin1.txt", "café".encode("latin-1"), "not valid UTF-8"),
    ("none.jsonl", b"\n\n", "holds no records"),
    ("twice.jsonl", b'{"_id": "1", "text": "a"}\n{"_id": "1", "text": "b"}\n', "share an id"),
    ("bad.jsonl", b'{"_id": "1", "text": "a"}\n{oops\n', "bad.jsonl:2: not valid JSON"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_UPLOADS)
def test_bad_uploads_are_refused_with_a_message_naming_the_file(tmp_path, name, data, message):
    path = write(tmp_path, name, data)
    with pytest.raises(QAError, match=message) as info:
        read_upload(path)
    assert name in str(info.value)
    assert str(tmp_path) not in str(info.value)  # the temporary folder is not the user's business


def test_uploads_over_the_limit_are_refused(tmp_path):
    path = write(tmp_path, "big.txt", b"word " * 400)
    with pytest.raises(QAError, match="big.txt is 2,000 bytes; the limit is 1,000 bytes"):
        read_upload(path, max_bytes=1000)
    assert read_upload(path, max_bytes=2000)[0].text.startswith("word")


def test_a_json_lines_upload_gives_one_document_a_record(tmp_path):
    rows = b'{"_id": "d1", "title": "Ships", "text": "Ships came in 1907."}\n{"id": 2, "text": "Two."}\n'
    docs = read_upload(write(tmp_path, "corpus.jsonl", rows))
    assert [(d.id, d.title, d.text) for d in docs] == [
        ("d1", "Ships", "Ships came in 1907."),
        ("2", "", "Two."),
    ]


def test_extracted_titles_are_tidied_like_the_text(tmp_path):
    page = write(
        tmp_path, "p.html", "<title> Ofﬁcial Infor&shy;mation </title><p>Body.</p>".encode()
    )
    text, title = extract(page)
    assert title == "Official Information" and text.endswith("Body.")


def test_pdf_lines_become_paragraphs_and_headings_stand_apart():
    from qa.extract import _pdf_paragraphs

    page = (
        "City Council Approves 2025 Budget\nThe Brennick city council approved a budget.\n"
        "The new\nbudget also funds a pool.\nRui Tavares, the Green\nParty member, voted no.\n"
        "- one\n- two"
    )
    assert _pdf_paragraphs(page) == (
        "City Council Approves 2025 Budget\n\nThe Brennick city council approved a budget.\n"
        "The new budget also funds a pool.\nRui Tavares, the Green\nParty member, voted no.\n"
        "- one\n- two\n"
    )


@pytest.mark.parametrize(
    "page",
    [
        "the council voted on Monday to give\nBrennick a new pool.",
        "Yesterday the mayor of Ostvik, Telma\nQuist, said no.",
        "The chair said that\nI should go.",
        # A narrow column: the first line is as long as the ones below it.
        "The council heard on Monday from Telma\nQuist that the harbour ferry would\n"
        "resume in May after a winter pause.",
    ],
)
def test_a_pdf_line_broken_in_mid_sentence_is_no_heading(page):
    from qa.extract import _pdf_paragraphs

    assert "\n\n" not in _pdf_paragraphs(page)


BODY = [
    "The harbour ferry between Ostvik and Marsh Lane will resume on 12 May after a",
    "winter pause. The operator said the boat had been repaired over the winter and",
    "that timetables would be posted at both piers.",
]


@pytest.mark.parametrize(
    ("headline", "heading"),
    [
        # In sentence case, clearly shorter than the lines of text below it.
        (["Harbour ferry service to resume in May"], "Harbour ferry service to resume in May"),
        # In title case, wrapped before a figure.
        (["City Council Approves", "2025 Budget"], "City Council Approves\n2025 Budget"),
        # In sentence case, wrapped in mid-sentence.
        (["Harbour ferry service to", "resume in May"], "Harbour ferry service to resume in May"),
        # Longer than one line may be: 65 characters over three.
        (
            ["Harbour ferry service to resume", "in May after two years of", "repairs"],
            "Harbour ferry service to resume in May after two years of repairs",
        ),
    ],
)
def test_a_pdf_headline_is_a_paragraph_of_its_own(tmp_path, headline, heading):
    from qa.chunk import sentences

    (doc,) = read_upload(write(tmp_path, "ferry.pdf", make_pdf(headline + BODY)))
    assert doc.text.startswith(heading + "\n\nThe harbour ferry between")
    first, second = [doc.text[a:b] for a, b, _ in sentences(doc.text)[:2]]
    assert first == heading
    assert second == (
        "The harbour ferry between Ostvik and Marsh Lane will resume on 12 May after a "
        "winter pause."
    )


@pytest.mark.parametrize(
    "title",
    [
        "",
        "   ",
        "about:blank",  # Chromium's print-to-PDF, for a page without a title
        "https://kestlebay.example/news/ferry.html",
        "file:///home/ana/Downloads/report.html",
        "www.kestlebay.example",
        "Untitled",
        "untitled document",
        "Untitled Document",  # Dreamweaver's <title>
        "Untitled-1",
        "Untitled presentation",
        "Document1",
        "Presentation1",
        "PowerPoint Presentation",
        "report.pdf",
        "Ferry timetable v2.DOCX",
        "Microsoft Word - ferry.docx",
        "Microsoft Word - Document1",
        "C:\\Users\\ana\\Desktop\\notes.txt",
        "scan0001.tif",
        "12345",
        "—",
    ],
)
def test_titles_that_name_nothing_are_dropped(title):
    assert clean_title(title) == ""


@pytest.mark.parametrize(
    "title",
    [
        "Harbour ferry service to resume in May",
        "Skerry Island Wind Farm: Planning Decision",
        "Annual report 2023",
        "Booking.com annual report",
        "About: the harbour",
        "Untitled Film Stills",
        "How to open a .docx file",
        "Node.js in practice",
    ],
)
def test_real_titles_are_kept(title):
    assert clean_title(title) == title


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("print.pdf", make_pdf(["The wind farm was approved."], title="about:blank")),
        ("saved.pdf", make_pdf(["The wind farm was approved."], title="Microsoft Word - wf.docx")),
        ("memo.docx", make_docx(["The wind farm was approved."], title="Untitled document")),
        ("page.html", b"<title>Untitled Document</title><p>The wind farm was approved.</p>"),
    ],
)
def test_a_junk_title_in_a_file_is_no_title(tmp_path, name, data):
    text, title = extract(write(tmp_path, name, data))
    assert (text, title) == ("The wind farm was approved.", "")
    (doc,) = read_upload(write(tmp_path, name, data))
    assert doc.title == ""


def test_a_real_pdf_title_is_kept(tmp_path):
    data = make_pdf(["The wind farm was approved."], title="Skerry Island Wind Farm")
    assert extract(write(tmp_path, "wf.pdf", data))[1] == "Skerry Island Wind Farm"


def test_a_sentence_running_over_a_page_break_stays_one():
    from qa.extract import _join_pages

    assert _join_pages(["The board discussed the cost of", "new ropes. It met again."]) == (
        "The board discussed the cost of new ropes. It met again."
    )
    assert _join_pages(["It met on Tuesday.", "new ropes were bought."]) == (
        "It met on Tuesday.\n\nnew ropes were bought."  # a finished sentence: a new page
    )
    assert _join_pages(["Harbour timetable", "The first ferry leaves at 6:40."]) == (
        "Harbour timetable\n\nThe first ferry leaves at 6:40."
    )
    assert _join_pages(["", "text"]) == "\n\ntext"


def test_lines_alike_but_for_their_figures_are_text_unless_numbered_as_pages():
    """The first line of each page of a list ("Item 18: the warehouse ... stores 180 pallets
    of", "Item 37: ...") was taken for a running header and dropped; a page's own header and
    footer, read inside the browser's print stamps, were kept."""
    stamp = ["12/3/26, 4:31 PM Warehouse log", "file:///tmp/hdr.html {}/3"]
    pages = [
        [f"Item {n}: the warehouse stores {10 * n} pallets of dried cod for", "export.",
         "More text.", "ACME Fisheries internal", "Confidential and proprietary",
         stamp[0], stamp[1].format(page)]
        for page, n in enumerate((1, 18, 37), 1)
    ]  # fmt: skip
    text = pdf_text(make_pdf(pages[0], more_pages=pages[1:]), "log.pdf")[0]
    for n in (1, 18, 37):
        assert f"Item {n}: the warehouse stores {10 * n} pallets of dried cod for export." in text
    assert "ACME" not in text and "Confidential" not in text and "PM" not in text
    # A page's number, on its own or of a count, counts up a page at a time.
    pages = [[f"Harbour report, page {n} of 3", f"Line {n}.", f"- {n + 4} -"] for n in (1, 2, 3)]
    text = pdf_text(make_pdf(pages[0], more_pages=pages[1:]), "r.pdf")[0]
    assert text == "Line 1.\n\nLine 2.\n\nLine 3."


def test_an_html_page_saved_as_utf16_is_read_and_an_empty_one_has_no_text(recwarn):
    page = "<title>Café</title><p>The museum opens at 9.</p>"
    for encoding in ("utf-16", "utf-16-be"):
        data = page.encode(encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data
        assert html_text(data) == ("The museum opens at 9.", "Café")
    with pytest.raises(QAError, match="not valid UTF-16"):
        html_text(b"\xff\xfe<\x00p\x00>\x00\x00\xd8")  # a lone high surrogate
    assert html_text(b"") == ("", "") and html_text(b" \n") == ("", "")
    assert not recwarn.list  # the parser's "characters could not be decoded" on empty bytes


def test_a_printed_page_s_header_and_footer_are_left_out():
    # Chromium prints the date, time and title over each page and the address and page number
    # under it; pypdf reads them as the page's last lines, inside a sentence running on.
    stamp = ["12/3/26, 1:47 PM Ferry news", "file:///home/ana/ferry.html {}/2"]
    pdf = make_pdf(
        ["Ferry to resume", "The harbour ferry resumes in May after repairs to the"] +
        [stamp[0], stamp[1].format(1)],
        more_pages=[["pier. Residents said they were relieved.", stamp[0], stamp[1].format(2)]],
    )  # fmt: skip
    text, _ = pdf_text(pdf, "ferry.pdf")
    assert text == (
        "Ferry to resume\n\nThe harbour ferry resumes in May after repairs to the pier. "
        "Residents said they were relieved."
    )
    # On one page, only a browser's stamp is told from text.
    single = make_pdf(["Opening hours", "The museum opens at 9.", "Page 1 of 1",
                       "3.12.26, 13:47 Museum", "https://example.org/museum 1/1"])  # fmt: skip
    assert pdf_text(single, "m.pdf")[0] == "Opening hours\n\nThe museum opens at 9.\nPage 1 of 1"
    # A line of text that ends two pages, or a numbered one, is text.
    pages = [["Item 1. The pier is closed.", "Residents said they were relieved."],
             ["Item 2. The pier is open.", "Residents said they were relieved."]]  # fmt: skip
    text = pdf_text(make_pdf(pages[0], more_pages=pages[1:]), "r.pdf")[0]
    assert text.count("Residents said they were relieved.") == 2 and "Item 2." in text
