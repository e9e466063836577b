"""Tables as spreadsheets and people write them: one reader for answers, manifests and lists."""

import codecs
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rarelab.data import PathIndex, TableError, image_sources, read_manifest, read_table
from rarelab.exceptions import InvalidParameterError
from rarelab.loop import NOT_RARE
from rarelab.search import parse_label_csv

ANSWERS = (("path", "item_id"), "label")


def _write(path, text, *, encoding="utf-8", bom=b"", newline="\n"):
    path.write_bytes(bom + text.replace("\n", newline).encode(encoding))
    return path


# -- the reader ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bom,encoding,delimiter,newline",
    [
        (codecs.BOM_UTF8, "utf-8", ",", "\r\n"),  # Excel "CSV UTF-8 (Comma delimited)"
        (codecs.BOM_UTF8, "utf-8", ";", "\r\n"),  # the same where ',' is the decimal comma
        (b"", "utf-8", "\t", "\n"),
        (b"", "utf-8", "|", "\r"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "\t", "\r\n"),  # Excel "Unicode Text"
    ],
)
def test_spreadsheet_dialects_read_alike(tmp_path, bom, encoding, delimiter, newline):
    d = delimiter
    text = f'Path{d} Label \nbatch1/a.png{d}stop\n\n"b{d} c.png"{d}not\n{d}\n'
    t = read_table(_write(tmp_path / "t.csv", text, encoding=encoding, bom=bom, newline=newline), required=ANSWERS)
    assert t.delimiter == d and t.columns == ["path", "label"]
    assert [r["path"] for r in t.rows] == ["batch1/a.png", f"b{d} c.png"]
    assert [r["label"] for r in t.rows] == ["stop", "not"]
    assert t.lines == [2, 4]  # the blank line and the trailing empty row are skipped, not renumbered


def test_quoted_fields_hold_newlines_and_lines_count_from_the_file(tmp_path):
    t = read_table(_write(tmp_path / "t.csv", 'path,label\n"a\nb.png",x\nc.png,y\n'), required=ANSWERS)
    assert [r["path"] for r in t.rows] == ["a\nb.png", "c.png"] and t.lines == [2, 4]


def test_header_names_in_other_case_spacing_and_a_pandas_index(tmp_path):
    t = read_table(_write(tmp_path / "t.csv", ",Item ID,LABEL\n0,3,stop\n1,4.0,not\n"), required=ANSWERS)
    assert t.columns == ["", "item_id", "label"] and t.rows[1]["item_id"] == "4.0"


def test_the_delimiter_is_the_one_that_gives_the_required_columns(tmp_path):
    # commas inside values of a ';' file do not fool it
    t = read_table(_write(tmp_path / "t.csv", "path;label\nx, y.png;no entry, except buses\n"), required=ANSWERS)
    assert t.delimiter == ";" and t.rows[0] == {"path": "x, y.png", "label": "no entry, except buses"}


def test_a_missing_column_names_the_file_line_and_what_it_found(tmp_path):
    f = _write(tmp_path / "t.csv", "\n file ,label\nx.png,stop\n")
    with pytest.raises(TableError, match=r"t\.csv', line 2: .*'path' or 'item_id'.*\[' file ', 'label'\]") as e:
        read_table(f, required=ANSWERS)
    assert e.value.line == 2 and isinstance(e.value, InvalidParameterError)


def test_a_row_with_an_unquoted_delimiter_is_named(tmp_path):
    f = _write(tmp_path / "t.csv", "path,label\na.png,stop\nb, c.png,stop\n")
    with pytest.raises(TableError, match=r"line 3: 3 values but the header names 2 columns.*double quotes"):
        read_table(f, required=ANSWERS)


def test_a_legacy_windows_csv_is_refused_with_line_column_and_the_fix(tmp_path):
    f = _write(tmp_path / "t.csv", "path,label\na.png,stop\nb.png,café\n", encoding="cp1252")
    with pytest.raises(TableError, match=r"line 3, column 'label': is not UTF-8: byte 0xE9.*'café'.*CSV UTF-8") as e:
        read_table(f, required=ANSWERS)
    assert (e.value.line, e.value.column) == (3, "label")
    assert read_table(f, required=ANSWERS, encoding="cp1252").rows[1]["label"] == "café"


def test_two_columns_of_one_name_are_an_error(tmp_path):
    with pytest.raises(TableError, match="two columns are called 'label'"):
        read_table(_write(tmp_path / "t.csv", "path,Label,label\na.png,x,y\n"), required=ANSWERS)


# -- manifests and lists --------------------------------------------------------------------
def test_manifests_resolve_relative_and_backslash_paths_against_their_folder(tmp_path, monkeypatch):
    (tmp_path / "m").mkdir()
    f = _write(tmp_path / "m" / "seed.csv", "PATH;Label\nimgs\\a.png;stop\nb.png;not\n", bom=codecs.BOM_UTF8)
    monkeypatch.chdir(tmp_path)
    cols = read_manifest(f)
    assert cols["path"] == [str(tmp_path / "m" / "imgs" / "a.png"), str(tmp_path / "m" / "b.png")]
    assert cols["label"] == ["stop", "not"]
    assert image_sources(f) == cols["path"]  # --pool reads the same way


def test_an_empty_path_in_a_manifest_is_named(tmp_path):
    with pytest.raises(TableError, match="line 3, column 'path': the path is empty"):
        read_manifest(_write(tmp_path / "m.csv", "path,label\na.png,x\n,y\n"))


def test_a_txt_list_with_bom_blank_lines_and_crlf(tmp_path):
    f = _write(tmp_path / "list.txt", "a.png\n\n  sub\\b.png  \n\n", bom=codecs.BOM_UTF8, newline="\r\n")
    assert image_sources(f) == [str(tmp_path / "a.png"), str(tmp_path / "sub" / "b.png")]


def test_a_legacy_txt_list_is_refused_with_its_line(tmp_path):
    f = _write(tmp_path / "list.txt", "a.png\ncafé.png\n", encoding="cp1252")
    with pytest.raises(TableError, match=r"list\.txt', line 2: is not UTF-8"):
        image_sources(f)


# -- finding an item by what a person wrote ---------------------------------------------------
POOL = ["/data/pool/batch1/x.png", "/data/pool/batch2/x.png", "/data/pool/batch2/y.png", "/data/pool/Cafe\u0301.png"]


@pytest.mark.parametrize(
    "written,item",
    [
        ("/data/pool/batch2/y.png", 2),
        ("y.png", 2),  # the bare name candidates.html shows
        ("batch2/x.png", 1),  # a unique end of one path
        ("batch2\\x.png", 1),  # Windows separators
        ("pool/batch1/x.png", 0),
        ("./batch2/y.png", 2),
        ("Café.png", 3),  # typed NFC, a macOS folder's NFD
        ("../pool/batch2/y.png", 2),  # relative to the table's folder /data/answers
    ],
)
def test_path_index_finds_one_item(written, item):
    assert PathIndex(POOL).find(written, base="/data/answers") == item


def test_path_index_lists_the_candidates_of_an_ambiguous_name():
    with pytest.raises(LookupError, match=r"'x.png' fits 2 files.*batch1/x.png.*batch2/x.png.*more of its path"):
        PathIndex(POOL).find("x.png", base="/elsewhere")
    with pytest.raises(LookupError, match="not a file of this search"):
        PathIndex(POOL).find("z.png", base="/elsewhere")


# -- answers, checked against a search's items -----------------------------------------------
@pytest.fixture
def stub(tmp_path):
    """What parse_label_csv reads of a search: its files, classes and pool."""
    files = [tmp_path / "pool" / "batch1" / "x.png", tmp_path / "pool" / "batch2" / "x.png"]
    files += [tmp_path / "pool" / f"{k}.png" for k in range(4)]
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
    dataset = SimpleNamespace(paths=[str(p) for p in files], classes=["common", "no entry, except buses", "Stop"])
    return SimpleNamespace(dataset=dataset, split=SimpleNamespace(pool=np.arange(len(files))))


def _labels(stub, f):
    ids, labels = parse_label_csv(stub, f)
    return dict(zip(ids.tolist(), labels.tolist()))


def test_answers_with_a_bom_are_read(stub, tmp_path):
    f = _write(tmp_path / "a.csv", "path,label\npool/0.png,Stop\n", bom=codecs.BOM_UTF8, newline="\r\n")
    assert _labels(stub, f) == {2: 2}


def test_answers_paths_are_relative_to_the_csv_not_the_current_folder(stub, tmp_path, monkeypatch):
    f = _write(tmp_path / "a.csv", "path,label\npool/0.png,not\n")
    for cwd in (tmp_path, tmp_path / "pool"):
        monkeypatch.chdir(cwd)
        assert _labels(stub, f) == {2: NOT_RARE}
    sub = tmp_path / "answers"
    sub.mkdir()
    assert _labels(stub, _write(sub / "a.csv", "path,label\n../pool/1.png,not\n")) == {3: NOT_RARE}


def test_answers_by_bare_name_unique_suffix_and_excel_semicolons(stub, tmp_path):
    text = "Path;Label\n0.png;no entry, except buses\nbatch2\\x.png;STOP\n 3.png ;Not\n;\n"
    assert _labels(stub, _write(tmp_path / "sub.csv", text, bom=codecs.BOM_UTF8)) == {2: 1, 1: 2, 5: NOT_RARE}


def test_an_ambiguous_bare_name_stores_nothing_and_lists_the_candidates(stub, tmp_path):
    f = _write(tmp_path / "a.csv", "path,label\n0.png,not\nx.png,not\n")
    with pytest.raises(InvalidParameterError, match=r"1 bad row; nothing was stored. line 3: 'x.png' fits 2 files"):
        parse_label_csv(stub, f)


@pytest.mark.parametrize("word", ["not", "Not", "NOT RARE", "not_rare", "not-rare", "no", "No", "-1", " not "])
def test_not_rare_spellings(stub, tmp_path, word):
    assert _labels(stub, _write(tmp_path / "a.csv", f'path,label\n0.png,"{word}"\n')) == {2: NOT_RARE}


def test_labels_match_class_names_by_the_one_rule(stub, tmp_path):
    text = 'item_id,label\n2," no  entry, except buses "\n3,stop\n4,common\n5,"No Entry, Except Buses"\n'
    assert _labels(stub, _write(tmp_path / "a.csv", text)) == {2: 1, 3: 2, 4: 0, 5: 1}
    with pytest.raises(InvalidParameterError, match=r"line 2: label 'stpo' is not a class.*Did you mean 'Stop'"):
        parse_label_csv(stub, _write(tmp_path / "b.csv", "item_id,label\n2,stpo\n"))


def test_conflicting_rows_name_both_lines_and_item_ids_may_be_floats(stub, tmp_path):
    f = _write(tmp_path / "a.csv", "item_id,path,label\n2.0,,not\n,pool/0.png,Stop\n")
    with pytest.raises(InvalidParameterError, match="lines 2 and 3 give .*0.png' different labels"):
        parse_label_csv(stub, f)


def test_an_answers_parquet_is_read_too(stub, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    pq.write_table(pa.table({"Path": ["0.png", "1.png"], "label": ["stop", "not"]}), tmp_path / "a.parquet")
    assert _labels(stub, tmp_path / "a.parquet") == {2: 2, 3: NOT_RARE}


@pytest.mark.slow
def test_answers_cli_reads_a_bom_csv_from_another_folder(tmp_path, monkeypatch, capsys):
    """The issue's cases through `rarelab search label` on a real search."""
    from tests.test_class_names import small_search

    run, demo = small_search(tmp_path)
    from rarelab.cli import main
    from rarelab.search import open_search

    search = open_search(run, progress=False)
    search.train().propose()
    ids = [int(i) for i in search.candidates_.ids[:3]]
    files = [Path(search.dataset.paths[i]) for i in ids]
    search.close()
    answers = tmp_path / "answers.csv"
    rel = os.path.relpath(files[0], tmp_path)
    rows = [f"{rel},not", f"{files[1].name},not", f"{files[2]},not"]
    _write(answers, "path,label\n" + "\n".join(rows) + "\n", bom=codecs.BOM_UTF8, newline="\r\n")
    monkeypatch.chdir(files[0].parent.parent)  # anywhere but the CSV's folder
    assert main(["search", "label", str(run), "--csv", str(answers)]) == 0, capsys.readouterr().err
    assert sorted(open_search(run, progress=False).pending_labels_) == sorted(ids)
