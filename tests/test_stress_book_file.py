"""A venue's own book for stress and capital adequacy (``--book FILE``; issue 15 item 4's
``solvent adequacy --book FILE``): the file is read strictly, a book already at a trigger is
refused, and the figures are the engine's on those positions (a Cover-1 worked by hand)."""

from __future__ import annotations

import json
import os
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.stress import BookParams
from solvent.stress.adequacy import adequacy
from solvent.stress.book_file import read_book_file

BOOK = """# a small venue book
account_id,side,qty,entry,deposit,group_id
alice,long,0.5,61000,3200.5,
bob,long,2,60000,2000,
fund-a1,short,12,60500,90000,fund-a
fund-a2,short,8,60400,60000,fund-a
carol,short,1.5,59000,4000,
dave,long,3,59800,10000,
"""


@pytest.fixture
def book_file(tmp_path: Path) -> Path:
    path = tmp_path / "book.csv"
    path.write_text(BOOK)
    return path


def test_cover_one_by_hand(book_file: Path) -> None:
    """binance-usdm BTCUSDT at 60,000: the shorts' side is 12 × 60,500 + 8 × 60,400 + 1.5 × 59,000
    = 1,297,700 of open interest, so the depth is 1,297,700. At +50 % (mark 90,000) every short
    is closed in the first round, in the file's order (its rows are the engine's ids in order),
    each buy walking the ask side after the ones before it: fund-a1's 12 first, then fund-a2's 8
    after 12 (carol's 1.5 comes last). An order of
    ``v`` after ``V`` (notional at the mark) pays 90,000 × (1 + 0.1 × ((V + v)·sqrt((V + v) / D) −
    V·sqrt(V / D)) / v), rounded up to the 0.1 tick, with nothing left for a fee; the group
    fund-a's loss is what its accounts' 90,000 and 60,000 of collateral do not cover."""
    book = read_book_file(book_file, BookParams(start_price=Decimal(60000)))
    assert book.open_interest_quote() == Decimal(1_297_700)
    depth, mark = Decimal(1_297_700), Decimal(90_000)

    def deficit(qty: int, entry: int, deposit: int, before: Decimal) -> Decimal:
        v, big_v = qty * mark, before * mark
        walked = ((big_v + v) * ((big_v + v) / depth).sqrt() - big_v * (big_v / depth).sqrt()) / v
        price = mark * (1 + Decimal("0.1") * walked)
        price = (price / Decimal("0.1")).to_integral_value(rounding=ROUND_CEILING) * Decimal("0.1")
        return -(deposit - qty * (price - entry))

    by_hand = deficit(12, 60500, 90000, Decimal(0)) + deficit(8, 60400, 60000, Decimal(12))
    report = adequacy(book)
    loss, move, groups = report.cover1
    assert (move, loss) == (Decimal("0.50"), by_hand)
    assert [book.group_labels[g] for g in groups if book.group_labels] == ["fund-a"]


def test_the_report_names_the_groups_and_the_run_reruns(book_file: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adequacy", "--book", str(book_file), "--start-price", "60000", "--out", str(tmp_path),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cover1"]["groups"] == ["fund-a"] and doc["accounts"] == 6
    assert main(["simulate", "--book", str(book_file), "--start-price", "60000", "--steps", "10", "--drop", "0.2",
                 "--out", str(tmp_path), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["inputs"]["book_file"] == str(book_file) and run["inputs"]["book"]["model"] == "file"
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(run))
    assert main(["simulate", "--inputs", str(saved), "--out", str(tmp_path)]) == 0
    assert "digest matches" in capsys.readouterr().err
    book_file.write_text(BOOK.replace("dave,long,3,", "dave,long,4,"))
    assert main(["simulate", "--inputs", str(saved), "--out", str(tmp_path)]) == 2
    assert "is not the book the run read" in capsys.readouterr().err


@pytest.mark.parametrize(("edit", "words"), [
    (("alice,long,0.5,", "alice,long,0.0005,"), "must be a positive multiple of the quantity step 0.001"),
    (("alice,long,0.5,61000,", "alice,long,0.5,61000.05,"), "must be a positive multiple of the price step 0.1"),
    (("3200.5,", "-1,"), "deposit -1 must be > 0"),
    # found by review: a trader in profit with no deposit ran on the fast model, the exact engine
    # could not open its account (a deposit of 0 is refused): refused here, for both
    (("dave,long,3,59800,10000,", "dave,long,3,59800,0,"), "deposit 0 must be > 0"),
    (("3200.5,", "3200.000000001,"), "at most 8 decimals"),
    (("bob,long", "alice,long"), "account_id 'alice' appears twice"),
    (("alice,long", "alice,buy"), "side must be long or short"),
    (("deposit,group_id", "deposit,group_id,colour"), "unknown column 'colour'"),
    (("account_id,side", "account,side"), "the header has no 'account_id' column"),
    (("alice,long,0.5,61000,3200.5", "alice,long,0.5,61000,1"), "account alice is at its liquidation trigger"),
    (("deposit,group_id", "deposit,qty"), "line 2: the header names column 'qty' twice"),
    (("carol,short,1.5,59000,4000,", "carol,short,1.5"), "line 7: 3 field(s), the header has 6"),
    # 10^30 BTC is beyond an int64 of 10^-8 units: refused by name, not an internal error
    (("alice,long,0.5,", "alice,long,1e30,"), "line 3: notional 61000000000000000000000000000000000 is above"),
    (("3200.5,", "1e30,"), "line 3: deposit 1000000000000000000000000000000 is above"),
])
def test_bad_books_are_refused_naming_the_row(edit: tuple[str, str], words: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BOOK.replace(*edit))
    out = tmp_path / "out"
    assert main(["adequacy", "--book", str(path), "--start-price", "60000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err
    assert not out.exists()


def test_the_series_never_overwrites_the_book_it_reads(book_file: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Review finding: ``--series`` named as the book replaced the book with the series."""
    assert main(["simulate", "--book", str(book_file), "--series", str(book_file), "--start-price", "60000",
                 "--steps", "3", "--out", str(tmp_path / "out")]) == 2
    assert "is a file the run reads" in capsys.readouterr().err
    assert book_file.read_text() == BOOK
    link = tmp_path / "hard-link.csv"  # found by a new-user pass: a hard link of the book was replaced
    os.link(book_file, link)
    assert main(["simulate", "--book", str(book_file), "--series", str(link), "--start-price", "60000",
                 "--steps", "3", "--out", str(tmp_path / "out")]) == 2
    assert "is a file the run reads" in capsys.readouterr().err
    assert book_file.read_text() == BOOK
    assert main(["adequacy", "--book", str(book_file), "--start-price", "60000", "--paths", "0",
                 "--out", str(tmp_path / "adq")]) == 0
    assert "6 accounts" in capsys.readouterr().out  # the book's, not --accounts' default


def test_a_hash_after_the_header_is_an_account_and_a_bom_is_skipped(tmp_path: Path) -> None:
    """Spreadsheet exports write a byte-order mark; an account may be called ``#7``. Only the
    ``#`` lines before the header are comments."""
    path = tmp_path / "book.csv"
    path.write_bytes(b"\xef\xbb\xbf" + BOOK.replace("bob,long", "#7,long").encode())
    book = read_book_file(path, BookParams(start_price=Decimal(60000)))
    assert book.labels is not None and book.labels[:2] == ("alice", "#7") and len(book.labels) == 6


def test_a_book_needs_its_start_price_and_draws_nothing(book_file: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--book", str(book_file), "--out", str(tmp_path)]) == 2
    assert "--book needs --start-price" in capsys.readouterr().err
    assert main(["simulate", "--book", str(book_file), "--start-price", "60000", "--seed", "3",
                 "--out", str(tmp_path)]) == 2
    assert "--seed draws a book; --book reads one" in capsys.readouterr().err


def test_a_group_named_after_an_account_outside_it_is_refused(tmp_path: Path) -> None:
    """Found by a new-user pass: alice in group ``bob`` and bob alone were two groups both shown
    as ``bob`` in Cover-2. A group may take the name of one of its own accounts."""
    clash = tmp_path / "clash.csv"
    clash.write_text("account_id,side,qty,entry,deposit,group_id\nalice,long,0.5,61000,3200.5,bob\n"
                     "bob,long,0.4,61000,3000,\ncarol,short,0.3,60000,2500,\n")
    with pytest.raises(InvalidInput, match="group_id 'bob' is also the id of an account outside that group"):
        read_book_file(clash, BookParams(start_price=Decimal(60000)))
    own = tmp_path / "own.csv"
    own.write_text("account_id,side,qty,entry,deposit,group_id\nalice,long,0.5,61000,3200.5,bob\n"
                   "bob,long,0.4,61000,3000,bob\ncarol,short,0.3,60000,2500,\n")
    book = read_book_file(own, BookParams(start_price=Decimal(60000)))
    assert sorted(set(book.group_labels.values())) == ["bob"]


def test_the_fund_starts_rounded_down_to_a_cent(tmp_path: Path) -> None:
    """By hand: the longs' notional 0.001 BTC × 100,000.1 = 100.0001 USDT; the fund 5 % of it is
    5.000005, rounded against the fund to 5.00 (rounded up it would be 5.01)."""
    path = tmp_path / "book.csv"
    path.write_text("account_id,side,qty,entry,deposit,group_id\nalice,long,0.001,100000.1,50,\n"
                    "carol,short,0.001,100000.1,50,\n")
    book = read_book_file(path, BookParams(venue="binance-usdm", symbol="BTCUSDT", start_price=Decimal(100000),
                                           insurance_fraction=Decimal("0.05")))
    assert book.insurance_units == 500_000_000
