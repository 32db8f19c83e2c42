"""Text from HTML, PDF and Word files, and the checks every uploaded file passes first."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from qa.errors import QAError
from qa.extract import docx_text, extract, html_text, pdf_text, read_upload, tidy
from qa.ingest import read_paths


def make_pdf(lines: list[str], title: str = "") -> bytes:
    """A one-page PDF with `lines` of Helvetica text, written by hand (no PDF writer needed)."""

    def lit(s: str) -> str:
        return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    ops = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"{lit(x)} Tj T*" for x in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title {lit(title)} >>",
    ]
    out, offsets = "%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
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
        "Home\n\nThe harbour\n\nThe harbour opened in 1907, after years of work.\n"
        "It is deep.\n\nYear | Ships\n\n1907 | 12"
    )


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
    ],
)
def test_a_pdf_line_broken_in_mid_sentence_is_no_heading(page):
    from qa.extract import _pdf_paragraphs

    assert "\n\n" not in _pdf_paragraphs(page)
