"""Sharded rounds: the global statement, its soundness checks, resume after a kill."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from por import shards as sh
from por.liabilities import LiabilitiesError, prove, verify, verify_user
from por.merkle import digest_from_hex, digest_to_hex
from por.store import open_store
from por.synthetic import generate

USERS = 100
H = 4  # shards of 16 customers: 7 shards, top tree of height 3 (one absent position)


@pytest.fixture(scope="module")
def rounds(tmp_path_factory):
    base = tmp_path_factory.mktemp("shards")
    generate(base / "round", USERS, 21)
    r = prove(base / "round", base / "b" / "liabilities", shard_height=H)
    # the same snapshot under another round secret, and another round altogether
    prove(base / "round", base / "o" / "liabilities", shard_height=H, write_inclusion=False,
          secret=b"\x07" * 32)
    generate(base / "round2", USERS, 22)
    prove(base / "round2", base / "r2" / "liabilities", shard_height=H, write_inclusion=False)
    return base, r


def _copy(base: Path, name: str) -> Path:
    dst = base / f"copy-{name}"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(base / "b" / "liabilities", dst)
    return dst


def _consistent_cheat(base: Path, name: str, edit) -> Path:
    """A copy of the round's bundle whose public.json was changed by ``edit(doc)`` and then
    made internally consistent by :func:`_write_consistent`."""
    b = _copy(base, name)
    doc = json.loads((b / "public.json").read_text())
    edit(doc)
    _write_consistent(b, doc)
    return b


def _write_consistent(b: Path, doc: dict) -> None:
    """Write a cheating public.json that is internally consistent: shard indices and proof
    file names renumbered, counts, heights, totals and root recomputed from the shard
    entries. Only the shard proofs and their key ranges can object."""
    entries = doc["shards"]
    s = len(entries)
    files = [(b / e["proof"]).read_bytes() for e in entries]
    for i, (e, data) in enumerate(zip(entries, files)):
        e["index"] = i
        e["proof"] = f"shards/{i:06d}.bin"
        (b / e["proof"]).write_bytes(data)
    for f in (b / "shards").iterdir():
        if int(f.stem) >= s:
            f.unlink()
    g = sh.top_height(s)
    k = len(doc["assets"])
    doc.update(shard_count=s, top_height=g, tree_height=doc["shard_height"] + g,
               max_customers=1 << (doc["shard_height"] + g))
    doc["equity_totals"] = [str(sum(int(e["equity_totals"][a]) for e in entries)) for a in range(k)]
    doc["debt_totals"] = [str(sum(int(e["debt_totals"][a]) for e in entries)) for a in range(k)]
    top = sh.top_levels([digest_from_hex(e["root"]) for e in entries], g)
    doc["root"] = digest_to_hex(top[-1][0])
    (b / "public.json").write_text(json.dumps(doc))


def test_plan_shards_tiles_the_key_space():
    keys = [5, 9, 12, 40, 41, 77, 100]
    plans = sh.plan_shards(keys, 1)
    assert [(p.start, p.stop) for p in plans] == [(0, 2), (2, 4), (4, 6), (6, 7)]
    assert [p.key_lo for p in plans] == [0, 12, 41, 100]
    assert [p.key_hi for p in plans] == [12, 41, 100, sh.KEY_SPACE]
    assert sh.top_height(1) == 0 and sh.top_height(2) == 1 and sh.top_height(7) == 3
    a = sh.shard_seed(b"k" * 32, "r", 1)
    assert a != sh.shard_seed(b"k" * 32, "r", 2) and a != sh.shard_seed(b"j" * 32, "r", 1)
    assert a == sh.shard_seed(b"k" * 32, "r", 1) and len(a) == 32


def test_global_statement_verifies(rounds):
    base, r = rounds
    doc = verify(base / "b" / "liabilities")
    assert doc["version"] == 4 and doc["shard_count"] == 7 and doc["top_height"] == 3
    assert doc["tree_height"] == H + 3
    assert r.shards == 7 and r.customers == USERS
    with open_store(r.store_url) as st:
        assert st.count(doc["round_id"]) == USERS


def test_shard_boundary_customers_verify(rounds, tmp_path):
    base, r = rounds
    doc = verify(base / "b" / "liabilities")
    size = 1 << H
    wanted = {i * size for i in range(7)} | {min(USERS, (i + 1) * size) - 1 for i in range(7)}
    found = set()
    with open_store(r.store_url) as st:
        for acc, proof in st.iter_round(doc["round_id"]):
            d = json.loads(proof)
            if d["leaf_index"] in {s * size + (j % size) for s in range(7) for j in wanted}:
                # leaf_index = shard * 2^h + local; customer position = that index here
                pos = (d["leaf_index"] >> H) * size + (d["leaf_index"] & (size - 1))
                if pos in wanted:
                    f = tmp_path / f"{pos}.json"
                    f.write_bytes(proof)
                    res = verify_user(f, base / "b" / "liabilities")["inclusion"]
                    assert res.tree_height == H + 3
                    assert res.leaf_index >> H == pos // size
                    found.add(pos)
    assert found == wanted  # first and last customer of every shard, the last shard included


def test_swapped_shards_fail(rounds):
    base, _ = rounds
    def swap(doc):
        doc["shards"][1], doc["shards"][2] = doc["shards"][2], doc["shards"][1]

    b = _consistent_cheat(base, "swap", swap)
    with pytest.raises(LiabilitiesError, match="key range|does not verify"):
        verify(b)
    # swapping only the proof files (entries in place) fails in the proofs
    b = _copy(base, "swapfiles")
    p1, p2 = b / "shards" / "000001.bin", b / "shards" / "000002.bin"
    d1, d2 = p1.read_bytes(), p2.read_bytes()
    p1.write_bytes(d2)
    p2.write_bytes(d1)
    with pytest.raises(LiabilitiesError, match="shard 1 .*does not verify"):
        verify(b)


def test_missing_or_unreadable_shard_proof_file_is_named(rounds):
    base, _ = rounds
    b = _copy(base, "nofile")
    (b / "shards" / "000004.bin").unlink()
    with pytest.raises(LiabilitiesError, match=r"000004\.bin: cannot read"):
        verify(b)
    # a later shard's bad proof does not hide an earlier one's: shard order decides
    b = _copy(base, "twobad")
    for name in ("000002.bin", "000005.bin"):
        p = b / "shards" / name
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 1
        p.write_bytes(bytes(data))
    with pytest.raises(LiabilitiesError, match=r"^shard 2 \(000002\.bin\): the proof does not verify"):
        verify(b)


@pytest.mark.parametrize("which", [0, 3, 6])
def test_dropped_shard_fails(rounds, which):
    base, _ = rounds
    b = _consistent_cheat(base, f"drop{which}", lambda doc: doc["shards"].pop(which))
    with pytest.raises(LiabilitiesError):
        verify(b)


def test_duplicated_shard_fails(rounds):
    base, _ = rounds
    b = _consistent_cheat(base, "dup", lambda doc: doc["shards"].insert(3, dict(doc["shards"][2])))
    with pytest.raises(LiabilitiesError):
        verify(b)
    # replacing a shard by a copy of its neighbour (count unchanged)
    b = _consistent_cheat(base, "dup2",
                          lambda doc: doc["shards"].__setitem__(3, dict(doc["shards"][2])))
    with pytest.raises(LiabilitiesError):
        verify(b)


@pytest.mark.parametrize("other", ["o", "r2"])
def test_shard_from_another_round_fails(rounds, other):
    """A shard (entry and proof) taken from another run of the same snapshot under another
    secret ("o"), or from another round ("r2"), with everything else made consistent."""
    base, _ = rounds
    b = _copy(base, f"other-{other}")
    doc = json.loads((b / "public.json").read_text())
    odoc = json.loads((base / other / "liabilities" / "public.json").read_text())
    doc["shards"][2] = odoc["shards"][2]
    shutil.copy(base / other / "liabilities" / "shards" / "000002.bin", b / "shards" / "000002.bin")
    _write_consistent(b, doc)
    with pytest.raises(LiabilitiesError):
        verify(b)


def test_global_total_must_be_the_sum_of_proven_shards(rounds):
    base, _ = rounds
    b = _copy(base, "total")
    doc = json.loads((b / "public.json").read_text())
    doc["debt_totals"][1] = str(int(doc["debt_totals"][1]) + 1)
    (b / "public.json").write_text(json.dumps(doc))
    with pytest.raises(LiabilitiesError, match="not the sums of the proven shards"):
        verify(b)
    b = _copy(base, "root")
    doc = json.loads((b / "public.json").read_text())
    doc["root"] = doc["shards"][0]["root"]
    (b / "public.json").write_text(json.dumps(doc))
    with pytest.raises(LiabilitiesError, match="global root"):
        verify(b)


def test_proof_file_path_is_fixed_by_the_verifier(rounds):
    base, _ = rounds
    b = _copy(base, "path")
    doc = json.loads((b / "public.json").read_text())
    doc["shards"][1]["proof"] = "shards/000000.bin"
    (b / "public.json").write_text(json.dumps(doc))
    with pytest.raises(LiabilitiesError, match="proof file must be"):
        verify(b)


def test_rerun_reuses_finished_shards_and_redoes_a_corrupt_one(tmp_path):
    generate(tmp_path / "round", 40, 5)
    out = tmp_path / "b" / "liabilities"
    r1 = prove(tmp_path / "round", out, shard_height=H)
    pub1 = (out / "public.json").read_bytes()
    work = tmp_path / "b.private" / "shards"
    assert sorted(p.name for p in work.iterdir()) == ["000000", "000001", "000002"]
    assert (tmp_path / "b.private").stat().st_mode & 0o777 == 0o700
    # a corrupt finished shard and a leftover half-written one are never taken as finished
    (work / "000001" / "proof.bin").write_bytes(b"garbage")
    (work / ".000002.tmp-999").mkdir()
    r2 = prove(tmp_path / "round", out, shard_height=H)
    assert r2.shards_reused == 2
    assert not (work / ".000002.tmp-999").exists()
    verify(out)
    assert (out / "public.json").read_bytes() == pub1  # seeded prover: the same bytes again
    assert r1.public["root"] == r2.public["root"]


def _bundle_bytes(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_kill_and_resume_gives_the_same_bundle(tmp_path):
    """SIGKILL a real `por prove liabilities` after its first shard is on disk; re-run it;
    the bundle equals the one of an uninterrupted run with the same round secret."""
    generate(tmp_path / "round", 120, 9)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "por", "prove", "liabilities", "--snapshot",
           str(tmp_path / "round"), "--shard-size", "2^3", "--json"]
    out_a = tmp_path / "A" / "liabilities"
    proc = subprocess.Popen(cmd + ["--out", str(out_a)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    first = tmp_path / "A.private" / "shards" / "000000" / "done.json"
    deadline = time.time() + 120
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert first.exists(), "the first shard never reached the disk"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes
    proc.wait()
    assert proc.returncode != 0
    done_before = len(list((tmp_path / "A.private" / "shards").glob("[0-9]*")))
    assert 1 <= done_before < 15, done_before
    assert not (out_a / "public.json").exists()

    res = subprocess.run(cmd + ["--out", str(out_a)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["shards"] == 15 and doc["shards_reused"] >= done_before
    verify(out_a)

    out_b = tmp_path / "B" / "liabilities"
    (tmp_path / "B.private").mkdir(mode=0o700)
    shutil.copy(tmp_path / "A.private" / "round-secret.key", tmp_path / "B.private")
    res = subprocess.run(cmd + ["--out", str(out_b)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    a, b = _bundle_bytes(out_a), _bundle_bytes(out_b)
    assert sorted(a) == sorted(b)
    assert sh.core_has_ranges(), "por._core lacks seeded proving: bundles cannot be identical"
    assert a == b
    with open_store(tmp_path / "A.private" / "proofs.db") as sa, \
            open_store(tmp_path / "B.private" / "proofs.db") as sb:
        rid = doc["round_id"]
        assert sa.count(rid) == sb.count(rid) == 120
        assert dict(sa.iter_round(rid)) == dict(sb.iter_round(rid))


def test_cli_proofs_export_get_and_bad_shard_size(rounds, tmp_path):
    from click.testing import CliRunner

    from por.cli import main

    base, r = rounds
    runner = CliRunner()
    priv = str(base / "b.private")
    res = runner.invoke(main, ["proofs", "export", "--private", priv, "--out",
                               str(tmp_path / "inc"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["exported"] == USERS
    one = sorted((tmp_path / "inc").iterdir())[5]
    acc = json.loads(one.read_text())["account_id"]
    res = runner.invoke(main, ["proofs", "get", "--private", priv, "--round",
                               r.public["round_id"], "--account", acc])
    assert res.exit_code == 0 and json.loads(res.output)["account_id"] == acc
    res = runner.invoke(main, ["proofs", "get", "--private", priv, "--round",
                               r.public["round_id"], "--account", "nobody"])
    assert res.exit_code == 1
    res = runner.invoke(main, ["verify", "user", "--proof", str(one), "--bundle",
                               str(base / "b" / "liabilities"), "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["prove", "liabilities", "--snapshot", str(base / "round"),
                               "--out", str(tmp_path / "x"), "--shard-size", "1000", "--json"])
    assert res.exit_code == 1 and "power of two" in json.loads(res.output)["error"]
    res = runner.invoke(main, ["prove", "liabilities", "--snapshot", str(base / "round"),
                               "--out", str(tmp_path / "x"), "--private",
                               str(tmp_path / "x" / "p"), "--json"])
    assert res.exit_code == 1 and "must not be inside" in json.loads(res.output)["error"]


def test_key_ranges_are_proven_not_just_declared(rounds):
    """Move the boundary between shards 2 and 3 consistently (still a tiling): the shard
    proofs themselves reject it, since every shard proves its keys lie in its range."""
    base, _ = rounds
    def move(doc):
        moved = str((int(doc["shards"][2]["key_lo"]) + int(doc["shards"][2]["key_hi"])) // 2)
        doc["shards"][2]["key_hi"] = moved
        doc["shards"][3]["key_lo"] = moved

    b = _consistent_cheat(base, "range", move)
    with pytest.raises(LiabilitiesError, match="shard 2 .*does not verify"):
        verify(b)
    b = _copy(base, "range-global")
    doc = json.loads((b / "public.json").read_text())
    doc["key_hi"] = str(1 << 59)
    (b / "public.json").write_text(json.dumps(doc))
    with pytest.raises(LiabilitiesError, match="key range"):
        verify(b)
