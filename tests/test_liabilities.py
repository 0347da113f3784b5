"""The liabilities pipeline end to end: snapshot -> proof + inclusion proofs -> verification,
and every tamper a verifier must catch."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from por.cli import main
from por.inclusion import InclusionError
from por.liabilities import LiabilitiesError, prove, verify, verify_user
from por.snapshot import load_snapshot
from por.store import open_store
from por.synthetic import generate

USERS = 60


@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    base = tmp_path_factory.mktemp("liab")
    generate(base / "round", USERS, 11)
    r = prove(base / "round", base / "bundle", shard_height=5)  # 2 shards
    with open_store(r.store_url) as st:
        st.export(r.public["round_id"], base / "inclusion")
    generate(base / "round2", USERS, 12)
    prove(base / "round2", base / "bundle2", shard_height=5, write_inclusion=False)
    return base, r


def _copy(base, name):
    dst = base / f"copy-{name}"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(base / "bundle", dst)
    return dst


def test_proof_verifies_and_totals_are_the_snapshots(proven):
    base, r = proven
    doc = verify(base / "bundle")
    snap = load_snapshot(base / "round")
    for a, e, d in zip(doc["assets"], doc["equity_totals"], doc["debt_totals"]):
        assert int(e) == snap.summary.equity[a]
        assert int(d) == snap.summary.debt[a]
    assert doc["max_customers"] >= USERS
    assert len(list((base / "inclusion").iterdir())) == USERS
    assert doc["shard_count"] == 2
    assert not (base / "bundle" / "inclusion").exists()
    assert not (base / "bundle" / "round-secret.key").exists()


def test_every_customer_is_included(proven):
    base, _ = proven
    files = sorted((base / "inclusion").iterdir())
    for f in files[:10]:
        res = verify_user(f, base / "bundle")["inclusion"]
        assert res.account_id == json.loads(f.read_text())["account_id"]
        assert res.round_id == verify(base / "bundle")["round_id"]


@pytest.mark.parametrize("field,change", [
    ("equity_totals", lambda v: [str(int(v[0]) + 1)] + v[1:]),
    ("debt_totals", lambda v: v[:-1] + [str(int(v[-1]) + 1)]),
    ("prices", lambda v: [str(int(v[0]) + 1)] + v[1:]),
    ("haircuts_bps", lambda v: [v[0] - 1] + v[1:]),
    ("round_id", lambda v: v + "x"),
    ("root", lambda v: ("0" if v[0] != "0" else "1") + v[1:]),
    ("key_lo", lambda v: str(int(v) + 1)),
    ("key_hi", lambda v: str(int(v) - 1)),
])
def test_changed_public_value_fails(proven, field, change):
    base, _ = proven
    b = _copy(base, field)
    doc = json.loads((b / "public.json").read_text())
    doc[field] = change(doc[field])
    (b / "public.json").write_text(json.dumps(doc))
    with pytest.raises(LiabilitiesError):
        verify(b)


def test_consistent_but_false_totals_fail_in_the_proof(proven):
    """Change a total AND its limb sums consistently: only the proof itself can object."""
    base, _ = proven
    b = _copy(base, "limbs")
    doc = json.loads((b / "public.json").read_text())
    sh = doc["shards"][0]
    sh["limb_sums"][0][0] += 1
    sh["equity_totals"][0] = str(int(sh["equity_totals"][0]) + 1)
    doc["equity_totals"][0] = str(int(doc["equity_totals"][0]) + 1)
    (b / "public.json").write_text(json.dumps(doc))
    with pytest.raises(LiabilitiesError, match="does not verify"):
        verify(b)


def test_flipped_proof_bytes_fail(proven):
    base, _ = proven
    b = _copy(base, "flip")
    pf = b / "shards" / "000001.bin"
    proof = bytearray(pf.read_bytes())
    for pos in (0, 9, len(proof) // 3, len(proof) // 2, len(proof) - 1):
        bad = bytearray(proof)
        bad[pos] ^= 0x01
        pf.write_bytes(bytes(bad))
        with pytest.raises(LiabilitiesError):
            verify(b)
    pf.write_bytes(bytes(proof[: len(proof) // 2]))
    with pytest.raises(LiabilitiesError):
        verify(b)


def test_proof_from_another_round_fails(proven):
    base, _ = proven
    b = _copy(base, "other")
    shutil.copy(base / "bundle2" / "shards" / "000000.bin", b / "shards" / "000000.bin")
    with pytest.raises(LiabilitiesError):
        verify(b)


def test_tampered_inclusion_proof_fails(proven, tmp_path):
    base, _ = proven
    f = sorted((base / "inclusion").iterdir())[0]
    d = json.loads(f.read_text())
    sym = next(iter(d["balances"]))
    d["balances"][sym]["equity"] = str(int(d["balances"][sym]["equity"]) + 1)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(InclusionError) as exc:
        verify_user(bad, base / "bundle")
    assert exc.value.reason == "balance"


def test_cli_verify_json_and_failure(proven):
    base, _ = proven
    runner = CliRunner()
    r = runner.invoke(main, ["verify", "liabilities", str(base / "bundle"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["ok"] is True and len(out["totals"]) == 22
    b = _copy(base, "cli")
    doc = json.loads((b / "public.json").read_text())
    doc["debt_totals"][0] = str(int(doc["debt_totals"][0]) - 1 if int(doc["debt_totals"][0]) else 1)
    (b / "public.json").write_text(json.dumps(doc))
    r = runner.invoke(main, ["verify", "liabilities", str(b), "--json"])
    assert r.exit_code == 1
    assert json.loads(r.output)["ok"] is False
