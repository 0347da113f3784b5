"""Declared balances (chains por cannot read): strict parsing, exact amounts, errors that name
the file, row and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from por.assets.balances import DECLARED, BalancesFileError, load_balances_file, totals

GOOD = """# exchange wallets on chains por does not read itself
address,chain,asset,amount,height
rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh,xrp,XRP,1250000.5,91234567
rPVMhWBsfF9iMXYj3aAzJVkPDTFNSyWdKy,xrp,XRP,0.000001,91234567
DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L,dogecoin,DOGE,42,5400000
TQrY8tryqsYVCYS3MFbtffiPp2ccyn4STm,tron,USDT,1000000.000001,70000000
"""


def write(tmp_path: Path, text: str, name: str = "declared.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_good_file_is_parsed_exactly(tmp_path: Path) -> None:
    recs = load_balances_file(write(tmp_path, GOOD))
    assert [(r.asset, r.amount, r.height, r.row) for r in recs] == [
        ("XRP", 1_250_000_500_000, 91234567, 3),  # drops
        ("XRP", 1, 91234567, 4),
        ("DOGE", 4_200_000_000, 5400000, 5),  # koinu
        ("USDT", 1_000_000_000_001, 70000000, 6),  # micro-USDT on tron
    ]
    assert all(r.status == DECLARED == "declared (unverified by por)" for r in recs)
    assert totals(recs) == {"XRP": 1_250_000_500_001, "DOGE": 4_200_000_000,
                            "USDT": 1_000_000_000_001}
    assert recs[0].to_dict()["source"] == "declared.csv"


ROW = "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh,xrp,XRP,{amount},91234567"


@pytest.mark.parametrize("line,field,match", [
    (ROW.format(amount="1.0000001"), "amount", "more than 6 decimal places"),
    (ROW.format(amount="-5"), "amount", "not a plain non-negative decimal"),
    (ROW.format(amount="1e6"), "amount", "not a plain non-negative decimal"),
    (ROW.format(amount="1,000"), None, "expected 5 fields"),
    (ROW.format(amount="0x10"), "amount", "not a plain non-negative decimal"),
    (ROW.format(amount=""), "amount", "not a plain non-negative decimal"),
    (ROW.format(amount=" 5"), "amount", "not a plain non-negative decimal"),
    (ROW.format(amount="NaN"), "amount", "not a plain non-negative decimal"),
    ("r1,xrp,XRPP,1,5", "asset", "unknown asset 'XRPP'"),
    ("r1,ethereum,XRP,1,5", "chain", "XRP is not held on chain 'ethereum'"),
    ("r 1,xrp,XRP,1,5", "address", "spaces"),
    (",xrp,XRP,1,5", "address", "empty"),
    ("r1,xrp,XRP,1,-1", "height", "not a non-negative integer"),
    ("r1,xrp,XRP,1,12.0", "height", "not a non-negative integer"),
])
def test_bad_rows_name_file_row_and_field(tmp_path: Path, line: str, field: str | None,
                                          match: str) -> None:
    p = write(tmp_path, "address,chain,asset,amount,height\nr0,xrp,XRP,1,91234567\n" + line
              + "\n")
    with pytest.raises(BalancesFileError, match=match) as ei:
        load_balances_file(p)
    assert ei.value.row == 3 and ei.value.field == field
    assert str(p) in str(ei.value) and "row 3" in str(ei.value)


def test_duplicates_and_mixed_heights_are_rejected(tmp_path: Path) -> None:
    dup = GOOD + "rPVMhWBsfF9iMXYj3aAzJVkPDTFNSyWdKy,xrp,XRP,5,91234567\n"
    with pytest.raises(BalancesFileError, match="already declared on row 4") as ei:
        load_balances_file(write(tmp_path, dup))
    assert ei.value.row == 7
    mixed = GOOD + "rNewAddressXXXXXXXXXXXXXXXXXXXXXXX,xrp,XRP,5,91234568\n"
    with pytest.raises(BalancesFileError, match="one snapshot height per chain"):
        load_balances_file(write(tmp_path, mixed))


def test_bad_header_empty_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(BalancesFileError, match="header must be exactly"):
        load_balances_file(write(tmp_path, "address,asset,chain,amount,height\n"))
    with pytest.raises(BalancesFileError, match="empty file"):
        load_balances_file(write(tmp_path, "# nothing\n"))
    with pytest.raises(BalancesFileError, match="cannot read"):
        load_balances_file(tmp_path / "missing.csv")
    p = tmp_path / "latin1.csv"
    p.write_bytes(b"address,chain,asset,amount,height\nr\xe9,xrp,XRP,1,5\n")
    with pytest.raises(BalancesFileError, match="not UTF-8"):
        load_balances_file(p)
