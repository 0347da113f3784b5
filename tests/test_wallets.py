"""Wallet files: OKX's published layouts and por's own JSON format load into one model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fixtures_path import OKX_ASSETS

from por.assets.wallets import WalletFileError, load_wallets

OKX = OKX_ASSETS
F7 = OKX / "okx_por_example_2022-11_7col.csv"
F11 = OKX / "okx_por_example_11col.csv"
F12 = OKX / "okx_por_staking_example_12col.csv"
F9 = OKX / "okx_aup_test_9col.csv"


SHA256 = {
    F7: "984a42956cb1b4dc3dc816c16c406447e8cce89ad32f0838325b3e1aa40077e6",
    F11: "af6d8c9775b018f9a2ce324af1e1db77c147611f54955e51f52438bd3044e029",
    F12: "d57fe679b998248d47bc234155372588ef4c67b19ef4eb55166377fd72692d43",
    F9: "1e91b0377a99aeb0af74c551883c5eb3568ae73472341540d7f0031657d847c8",
}


def test_fixtures_are_byte_for_byte_as_published():
    for path, digest in SHA256.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path


def test_7col_layout_summary_and_base_units():
    wf = load_wallets(F7)
    assert wf.layout == "okx-7col"
    assert len(wf.entries) == 33
    assert len(wf.summary) == 12
    s = {r.coin: r for r in wf.summary}
    assert s["ETH"].amount == "5.2834" and s["ETH"].height == 16005122  # leading space gone
    assert s["ETH(ALL)"].height is None  # "-"
    first = wf.entries[0]
    assert (first.row, first.coin, first.chain, first.assets) == (16, "USDT-TRC20", "tron", ("USDT",))
    assert first.declared == {"USDT": 111000000}  # base units, as published
    assert first.height == 46095694  # from the summary block
    btc = [e for e in wf.entries if e.chain == "bitcoin"]
    assert len(btc) == 9 and all(e.scheme == "btc-bms-multisig" and e.redeem_script for e in btc)
    assert sum(e.declared["BTC"] for e in btc) == 44951400581
    # "null" second signatures are absent, not the text "null"
    opt = [e for e in wf.entries if e.chain == "optimism"]
    assert all(len(e.signatures) == 1 and "null" not in e.signatures for e in opt)
    assert wf.messages() == {"I am an OKX address"}


def test_11col_decimals_owners_and_short_rows():
    wf = load_wallets(F11)
    assert wf.layout == "okx-11col"
    rows = {e.row: e for e in wf.entries}
    assert sorted(rows) == [16, 17, 18, 19, 20]
    assert rows[16].declared == {"ETH": 58959708849230328}  # 0.058959708849230328 ETH in wei
    assert rows[16].height == 20914735 and rows[16].owners == ()
    assert rows[18].owners == ("0x0cdcdb19a857c2ac24818ca4fdfe38cce071483e",
                               "0x16f01cfc16b0b8c3400fb8e5099b0974fcc9fc12")
    assert rows[19].chain == "ton" and rows[19].public_keys[0].startswith("6711ba8e")
    assert rows[19].declared == {"USDT": 170479995}
    assert rows[20].chain == "aptos" and rows[20].assets == ("APT",)
    assert rows[20].declared == {"APT": 150000000}


def test_12col_staking_and_9col_auditor():
    wf = load_wallets(F12)
    assert wf.layout == "okx-12col"
    assert [e.kind for e in wf.entries] == ["Non Staking", "Native ETH Staking", "Eigenlayer Staking"]
    assert wf.entries[2].owners[1] == "0x16f01cfc16b0b8c3400fb8e5099b0974fcc9fc12"
    assert wf.entries[1].declared == {"ETH": 32 * 10**18}
    wf9 = load_wallets(F9)
    assert wf9.layout == "okx-9col" and len(wf9.entries) == 9
    chains = [e.chain for e in wf9.entries]
    assert chains == ["ethereum", "starknet", "bitcoin", "polkadot", "cardano", "dogecoin", "okc",
                      "tron", "eos"]
    assert wf9.entries[1].scheme == "starknet"
    assert all(e.message == "OKC_DTT_AUP2025" for e in wf9.entries)
    assert wf9.entries[-1].row == 10  # the last line, with no trailing newline


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_errors_name_file_row_and_field(tmp_path):
    text = F7.read_text().replace("111000000", "111.5", 1)
    p = _write(tmp_path, "bad.csv", text)
    with pytest.raises(WalletFileError) as ei:
        load_wallets(p)
    assert ei.value.row == 16 and ei.value.field == "amount" and "bad.csv" in str(ei.value)

    text = F11.read_text().replace("20914735", "2091x735", 1)
    with pytest.raises(WalletFileError, match=r"row 16, field 'Snapshot Height'"):
        load_wallets(_write(tmp_path, "h.csv", text))

    text = F9.read_text().replace("DOT,DOT,", "DOT,NOSUCHCHAIN,", 1)
    with pytest.raises(WalletFileError, match=r"row 5, field 'Network'.*NOSUCHCHAIN"):
        load_wallets(_write(tmp_path, "n.csv", text))

    text = F9.read_text().replace("signedMessage2", "sigMsg2", 1)
    with pytest.raises(WalletFileError, match=r"row 1: unknown header"):
        load_wallets(_write(tmp_path, "hd.csv", text))

    lines = F9.read_text().split("\n")
    lines[3] = lines[3] + ",extra"
    with pytest.raises(WalletFileError, match=r"row 4: 10 fields"):
        load_wallets(_write(tmp_path, "w.csv", "\n".join(lines)))

    # a dropped required column is not mistaken for an omitted optional one
    lines = F11.read_text().split("\n")
    lines[15] = lines[15].rsplit(",", 3)[0]
    with pytest.raises(WalletFileError, match=r"row 16: 6 fields"):
        load_wallets(_write(tmp_path, "s.csv", "\n".join(lines)))

    with pytest.raises(WalletFileError, match=r"row 16, field 'message'"):
        load_wallets(_write(tmp_path, "m.csv", F7.read_text().replace(
            "111000000,I am an OKX address", "111000000,", 1)))


def _por_doc(**over):
    w = {"chain": "ethereum", "address": "0x" + "11" * 20, "assets": ["ETH"],
         "scheme": "evm-personal-sign", "signatures": ["0x" + "22" * 65]}
    w.update(over)
    return {"format": "por-wallets", "version": 1, "message": "m", "wallets": [w]}


def test_por_json_errors(tmp_path):
    p = tmp_path / "w.json"
    p.write_text(json.dumps(_por_doc()))
    wf = load_wallets(p)
    assert wf.layout == "por-wallets-v1" and wf.message == "m" and wf.entries[0].row == 1

    for over, field, pattern in [
        ({"chain": "mars"}, "chain", "unknown chain"),
        ({"assets": []}, "assets", "non-empty"),
        ({"signatures": [""]}, "signatures", "non-empty"),
        ({"threshold": "2"}, "threshold", "integer"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ]:
        p.write_text(json.dumps(_por_doc(**over)))
        with pytest.raises(WalletFileError) as ei:
            load_wallets(p)
        assert ei.value.row == 1 and ei.value.field == field and pattern in str(ei.value)

    doc = _por_doc()
    doc["wallets"].append(dict(doc["wallets"][0]))
    p.write_text(json.dumps(doc))
    with pytest.raises(WalletFileError, match=r"row 2, field 'address'.*twice"):
        load_wallets(p)
    doc = _por_doc()
    doc["version"] = 2
    p.write_text(json.dumps(doc))
    with pytest.raises(WalletFileError, match=r"field 'version'"):
        load_wallets(p)
    p.write_text("{not json")
    with pytest.raises(WalletFileError, match="not JSON"):
        load_wallets(p)
