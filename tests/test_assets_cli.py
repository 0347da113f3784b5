"""`por prove assets` / `por verify assets` / `por wallets ...` end to end, in process."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fixtures_path import OKX_ASSETS
from por.cli import main
from test_ownership import make_keys_doc

OKX = OKX_ASSETS
F7 = OKX / "okx_por_example_2022-11_7col.csv"
F9 = OKX / "okx_aup_test_9col.csv"


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.output


def test_prove_and_verify_okx_7col(tmp_path):
    out = tmp_path / "bundle"
    code, text = run("prove", "assets", "--wallets", F7, "--out", out, "--json")
    assert code == 0, text
    doc = json.loads(text)
    assert doc["ok"] and doc["addresses"] == 33
    t = doc["totals"]
    # the summary block of the same file says BTC 449.5140, USDT-TRC20 + USDT-OPTIMISM
    assert t["BTC"]["amount"] == "44951400581" and t["BTC"]["whole_units"] == "449.51400581"
    assert t["USDT"]["amount"] == "5569418126"
    assert t["ETH"]["unit"] == "gwei" and t["ETH"]["amount"] == "6901975405"
    assert t["BTC"]["sources"] == {"declared (unverified by por)": 9}
    bundle = json.loads((out / "assets.json").read_text())
    assert bundle["format"] == "por-assets" and bundle["version"] == 1
    ev = bundle["evidence"][0]
    assert ev["height"] == 46095694 and ev["signature"] == "verified"

    code, text = run("verify", "assets", out, "--json")
    assert code == 0, text
    v = json.loads(text)
    assert v["ok"] and v["signatures_verified"] == 33 and v["totals"] == doc["totals"]


def _tamper(out: Path, fn) -> None:
    p = out / "assets.json"
    d = json.loads(p.read_text())
    fn(d)
    p.write_text(json.dumps(d))


def test_verify_rejects_tampered_bundles(tmp_path):
    out = tmp_path / "b"
    assert run("prove", "assets", "--wallets", F7, "--out", out)[0] == 0
    original = (out / "assets.json").read_text()

    def restore():
        (out / "assets.json").write_text(original)

    cases = {
        "inflated total": lambda d: d["totals"]["BTC"].update(amount="54951400581"),
        "inflated evidence": lambda d: d["evidence"][3].update(amount_native="27263933",
                                                               amount="27263933"),
        "evidence counted twice": lambda d: d["evidence"].append(dict(d["evidence"][0])),
        "forged signature": lambda d: d["entries"][0].update(signatures=[
            d["entries"][1]["signatures"][0]]),
        "other message": lambda d: d.update(message="I am an OKX addresz"),
        "address swapped": lambda d: d["entries"][4].update(
            address="0x0114efa8f268ce0a41d92b7f9a13880dad234848"),
        "unknown source": lambda d: d["evidence"][0].update(balance_source="trust me"),
    }
    for name, fn in cases.items():
        restore()
        _tamper(out, fn)
        code, text = run("verify", "assets", out, "--json")
        assert code == 1, name
        assert json.loads(text)["ok"] is False, name
    restore()
    (out / "assets.json").write_text("{")
    code, text = run("verify", "assets", out, "--json")
    assert code == 1 and "not JSON" in json.loads(text)["error"]


def test_prove_fails_closed(tmp_path):
    # StarkNet row: unsupported scheme -> no bundle, exit 1, listed loudly
    code, text = run("prove", "assets", "--wallets", F9, "--out", tmp_path / "x", "--json")
    assert code == 1
    d = json.loads(text)
    assert any("starknet" in x and "unsupported scheme" in x for x in d["details"])
    assert not (tmp_path / "x" / "assets.json").exists()
    assert (tmp_path / "x" / "assets.failed.json").exists()
    # the same address listed twice would be counted twice
    lines = F7.read_text().split("\n")
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join(lines[:16] + [lines[15]] + lines[16:]))
    code, text = run("prove", "assets", "--wallets", dup, "--out", tmp_path / "y", "--json")
    assert code == 1 and "counted twice" in text
    # a message that is not the round's
    code, text = run("prove", "assets", "--wallets", F7, "--out", tmp_path / "z",
                     "--message", "I am an OKX address.", "--json")
    assert code == 1 and "not the round's message" in text
    # a bad file names file, row and field
    bad = tmp_path / "bad.csv"
    bad.write_text(F7.read_text().replace("17263933", "17263933.5"))
    code, text = run("prove", "assets", "--wallets", bad, "--out", tmp_path / "w", "--json")
    assert code == 1 and "row 19, field 'amount'" in text


def test_sign_check_prove_own_wallets(tmp_path):
    keys = make_keys_doc()
    kp = tmp_path / "wallet_keys.json"
    kp.write_text(json.dumps(keys))
    res = tmp_path / "reserves.csv"
    res.write_text("chain,address,asset,amount\n" + "\n".join(
        f"{w['chain']},{w['address']},{a},1" for w, a in zip(keys["wallets"], ["BTC", "BTC", "ETH", "USDT"])) + "\n")
    wp = tmp_path / "wallets.json"
    code, text = run("wallets", "sign", "--keys", kp, "--reserves", res, "--message", "round 1",
                     "--out", wp, "--json")
    assert code == 0, text
    code, text = run("wallets", "check", wp, "--json")
    assert code == 0, text
    assert [r["status"] for r in json.loads(text)["rows"]] == ["verified"] * 4
    code, text = run("wallets", "check", wp, "--message", "round 2")
    assert code == 1
    code, text = run("prove", "assets", "--wallets", wp, "--out", tmp_path / "b", "--json")
    assert code == 0, text
    assert set(json.loads(text)["totals"]) == {"BTC", "ETH", "USDT"}
    code, _ = run("verify", "assets", tmp_path / "b")
    assert code == 0
    # declared balances from a balances file (whole units -> registry base units)
    bal = tmp_path / "balances.csv"
    ws = keys["wallets"]
    bal.write_text("address,chain,asset,amount,height\n"
                   f"{ws[0]['address']},bitcoin,BTC,1.5,800000\n"
                   f"{ws[1]['address']},bitcoin,BTC,0.25,800000\n"
                   f"{ws[2]['address']},ethereum,ETH,2,19000000\n")
    code, text = run("prove", "assets", "--wallets", wp, "--out", tmp_path / "c",
                     "--balances", bal, "--json")
    assert code == 0, text
    t = json.loads(text)["totals"]
    assert t["BTC"]["amount"] == "175000000" and t["ETH"]["amount"] == "2000000000"
    assert t["USDT"]["amount"] == "0"  # no balance given for the TRON wallet
    ev = json.loads((tmp_path / "c" / "assets.json").read_text())["evidence"]
    assert ev[0]["height"] == 800000 and ev[0]["balance_source"] == "declared (unverified by por)"
    assert run("verify", "assets", tmp_path / "c")[0] == 0
    bal.write_text("address,chain,asset,amount,height\n"
                   f"{ws[0]['address']},bitcoin,BTC,1.5,800000\n"
                   f"{ws[0]['address']},bitcoin,BTC,1.5,800000\n")
    code, text = run("prove", "assets", "--wallets", wp, "--out", tmp_path / "d",
                     "--balances", bal, "--json")
    assert code == 1 and "balances.csv" in json.loads(text)["error"]
