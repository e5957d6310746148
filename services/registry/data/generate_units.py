#!/usr/bin/env python3
"""Generate units.csv and lineage.csv for the OCOP registry.

Sources (PyPI, pinned below, installed into a throwaway virtualenv):
  * vietnam-provinces: the 34 provinces and 3321 communes in force since
    2025-07-01 (codes of Decision 19/2025/QD-TTg, scraped by the package from
    the National Statistics Office); its JSON data file is read directly.
  * vietnamadminunits: the pre-reform 63 provinces, districts and communes
    (Decision 124/2004/QD-TTg code scheme, state just before 2025-07-01) from
    its SQLite data set, and the old->new conversion tables (converter_2025.json).

vietnam-provinces 2026.9.0 declares Python >= 3.12 for its code; only its data
files (and pure-data conversion modules, for a cross-check) are used, so it is
installed with --no-deps --ignore-requires-python and works on Python 3.11.

Usage: python3 generate_units.py   (re-executes itself inside the venv)
"""
import csv, datetime, json, os, sqlite3, subprocess, sys, tempfile, unicodedata
from collections import Counter, defaultdict
from pathlib import Path

PINS = {"vietnam-provinces": "2026.9.0", "vietnamadminunits": "1.0.4"}
OUT_DIR = Path(__file__).resolve().parent
NEW_FROM, OLD_UNTIL = "2025-07-01", "2025-06-30"
LEVELS = ("province", "district", "commune")
UNIT_COLS = ["scheme", "level", "code", "name", "parent_code", "valid_from", "valid_until"]
LINEAGE_COLS = ["from_scheme", "from_level", "from_code", "to_scheme", "to_level", "to_code", "is_default"]
# Known 2025 province codes (cross-check); value is a substring of the package's name.
EXPECTED_2025 = {"01": "Hà Nội", "04": "Cao Bằng", "08": "Tuyên Quang", "11": "Điện Biên", "12": "Lai Châu",
    "14": "Sơn La", "15": "Lào Cai", "19": "Thái Nguyên", "20": "Lạng Sơn", "22": "Quảng Ninh", "24": "Bắc Ninh",
    "25": "Phú Thọ", "31": "Hải Phòng", "33": "Hưng Yên", "37": "Ninh Bình", "38": "Thanh Hóa", "40": "Nghệ An",
    "42": "Hà Tĩnh", "44": "Quảng Trị", "46": "Huế", "48": "Đà Nẵng", "51": "Quảng Ngãi", "52": "Gia Lai",
    "56": "Khánh Hòa", "66": "Đắk Lắk", "68": "Lâm Đồng", "75": "Đồng Nai", "79": "Hồ Chí Minh", "80": "Tây Ninh",
    "82": "Đồng Tháp", "86": "Vĩnh Long", "91": "An Giang", "92": "Cần Thơ", "96": "Cà Mau"}


def bootstrap():
    """Create a temp venv, pip install the pinned packages, re-run this script in it."""
    with tempfile.TemporaryDirectory(prefix="ocop-units-venv-") as tmp:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True)
        py = str(Path(tmp) / "bin" / "python")
        pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
               "--ignore-requires-python"]
        subprocess.run(pip + [f"{n}=={v}" for n, v in PINS.items()], check=True)
        env = dict(os.environ, OCOP_UNITS_IN_VENV="1")
        sys.exit(subprocess.run([py, __file__], env=env).returncode)


def clean(name):
    """NFC-normalise and collapse whitespace; the text is otherwise kept verbatim."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def data_dir(package):
    """Path of a package's data/ folder, found without importing the package."""
    from importlib.util import find_spec
    return Path(find_spec(package).origin).parent / "data"


def load_2025():
    """Units in force since 2025-07-01, from vietnam-provinces' nested JSON."""
    rows = []
    for p in json.loads((data_dir("vietnam_provinces") / "nested-divisions.json").read_text("utf-8")):
        pc = f"{p['code']:02d}"
        rows.append(("2025", "province", pc, clean(p["name"]), "", NEW_FROM, ""))
        rows += [("2025", "commune", f"{w['code']:05d}", clean(w["name"]), pc, NEW_FROM, "") for w in p["wards"]]
    return rows


def load_2004(db):
    """Pre-reform provinces, districts and communes from vietnamadminunits' SQLite data set.

    Returns the unit rows and a map from the package's "prov_dist_ward" keys to (level, code)."""
    units, keys = {}, {}
    for r in db.execute("SELECT provinceCode, province, districtCode, district, wardCode, ward, "
                        "provinceKey, districtKey, wardKey FROM admin_units_legacy"):
        pc, pn, dc, dn, wc, wn, pk, dk, wk = r
        units[("province", pc)] = (pn, "")
        units[("district", dc)] = (dn, pc)
        if wc:  # island districts (e.g. Côn Đảo, Hoàng Sa) have no communes: ward columns are NULL
            units[("commune", wc)] = (wn, dc)
        keys[f"{pk}_{dk}_{wk or ''}"] = ("commune", wc) if wc else ("district", dc)
    rows = [("2004", lvl, code, clean(n), parent, "", OLD_UNTIL) for (lvl, code), (n, parent) in units.items()]
    return rows, keys


def build_lineage(db, old_keys):
    """Old->new rows from vietnamadminunits' converter_2025.json (keys resolved to codes)."""
    conv = json.loads((data_dir("vietnamadminunits") / "converter_2025.json").read_text("utf-8"))
    new_ward = {(pk, wk): wc for pk, wk, wc in db.execute("SELECT provinceKey, wardKey, wardCode FROM admin_units")}
    new_prov = dict(db.execute("SELECT DISTINCT provinceKey, provinceCode FROM admin_units"))
    old_prov = dict(db.execute("SELECT DISTINCT provinceKey, provinceCode FROM admin_units_legacy"))
    rows = []
    for new_pk, old_pks in conv["DICT_PROVINCE"].items():
        rows += [("2004", "province", old_prov[o], "2025", "province", new_prov[new_pk], "true") for o in old_pks]
    for new_pk, by_new in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_wk, olds in by_new.items():
            for o in olds:  # old unit wholly inside one new commune
                rows.append(("2004", *old_keys[o], "2025", "commune", new_ward[(new_pk, new_wk)], "true"))
    for new_pk, by_old in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for o, targets in by_old.items():  # old commune split among several new communes
            for t in targets:
                rows.append(("2004", *old_keys[o], "2025", "commune", new_ward[(new_pk, t["newWardKey"])],
                             "true" if t["isDefaultNewWard"] else "false"))
    return rows


def validate(units, lineage):
    """Fail loudly on duplicate codes, dangling parents/endpoints or default-count errors."""
    errors, index = [], Counter((u[0], u[1], u[2]) for u in units)
    errors += [f"duplicate unit {k}" for k, n in index.items() if n > 1]
    for s, lvl, code, _, parent, *_ in units:
        want = {"district": "province", "commune": "district" if s == "2004" else "province"}.get(lvl)
        if (want is None) != (parent == "") or (want and (s, want, parent) not in index):
            errors.append(f"bad parent_code {parent!r} for {s}/{lvl}/{code}")
    defaults = Counter()
    for fs, fl, fc, ts, tl, tc, d in lineage:
        errors += [f"lineage endpoint missing: {e}" for e in ((fs, fl, fc), (ts, tl, tc)) if e not in index]
        defaults[(fs, fl, fc)] += d == "true"
    errors += [f"{k} has {n} default successors" for k, n in defaults.items() if n != 1]
    if len(set(lineage)) != len(lineage):
        errors.append("duplicate lineage rows")
    prov25 = {u[2]: u[3] for u in units if u[:2] == ("2025", "province")}
    errors += [f"2025 province {c} should be {n}, got {prov25.get(c)}" for c, n in EXPECTED_2025.items()
               if n not in (prov25.get(c) or "")]
    errors += [f"extra 2025 province {c}" for c in prov25 if c not in EXPECTED_2025]
    if ("2004", "province", "49", "2025", "province", "48", "true") not in lineage:
        errors.append("old Quảng Nam (49) does not map to Đà Nẵng (48)")
    if errors:
        sys.exit("VALIDATION FAILED:\n  " + "\n  ".join(errors[:50]))
    return [k for k in index if k[0] == "2004" and k[1] != "district" and k not in defaults]


def cross_check(lineage):
    """Compare with vietnam-provinces' own conversion tables; returns notes (not fatal)."""
    from vietnam_provinces._province_conversion_2025 import OLD_TO_NEW as P
    from vietnam_provinces._ward_conversion_2025 import OLD_TO_NEW as W
    ours = {(r[1], r[2], r[5]) for r in lineage}
    vp = {("province", f"{o:02d}", f"{n.code:02d}") for o, e in P.items() for n in e.new_provinces}
    vp |= {("commune", f"{o:05d}", f"{n.code:05d}") for o, e in W.items() for n in e.new_wards}
    ours = {x for x in ours if x[0] != "district"}
    return [f"cross-check vs vietnam-provinces: {len(ours & vp)} old->new pairs agree, "
            f"{len(ours - vp)} only in vietnamadminunits, {len(vp - ours)} only in vietnam-provinces",
            *(f"  only vietnamadminunits: {x}" for x in sorted(ours - vp)),
            *(f"  only vietnam-provinces: {x}" for x in sorted(vp - ours))]


def write_csv(path, header, rows, comments):
    """Write comment lines, then an RFC-4180 CSV (UTF-8, LF line ends)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.writelines(f"# {c}\n" for c in comments)
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main():
    """Extract, validate and write both files (runs inside the venv)."""
    from importlib.metadata import version
    versions = {n: version(n) for n in PINS}
    assert versions == PINS, versions
    db = sqlite3.connect(data_dir("vietnamadminunits") / "dataset.db")
    old_rows, old_keys = load_2004(db)
    units = sorted(load_2025() + old_rows, key=lambda u: (-int(u[0]), LEVELS.index(u[1]), u[2]))
    lineage = sorted(set(build_lineage(db, old_keys)), key=lambda r: (r[1] != "province", r[1], r[2], r[5]))
    orphans = validate(units, lineage)
    counts = Counter((u[0], u[1]) for u in units)
    lcounts = Counter(r[1] for r in lineage)
    both = {lvl: len({u[2] for u in units if u[:2] == ("2025", lvl)} & {u[2] for u in units if u[:2] == ("2004", lvl)})
            for lvl in ("province", "commune")}
    head = [f"generated by services/registry/data/{Path(__file__).name} on {datetime.date.today().isoformat()}",
            "sources: " + ", ".join(f"{n}=={v} (PyPI)" for n, v in versions.items())]
    ucount = "; ".join(f"{s}/{lvl}={counts[(s, lvl)]}" for s in ("2025", "2004") for lvl in LEVELS if counts[(s, lvl)])
    write_csv(OUT_DIR / "units.csv", UNIT_COLS, units, head + [f"counts: {ucount}"])
    lc = "; ".join(f"from {lvl}={n}" for lvl, n in sorted(lcounts.items()))
    write_csv(OUT_DIR / "lineage.csv", LINEAGE_COLS, lineage, head + [f"counts: {lc}"])
    print("units:", ucount)
    print("lineage rows:", lc, "| old communes with >1 successor:",
          sum(1 for n in Counter(r[2] for r in lineage if r[1] == "commune").values() if n > 1))
    print("codes present in both schemes:", both)
    print("2004 provinces/communes without successor:", orphans or "none")
    print("\n".join(cross_check(lineage)))


if __name__ == "__main__":
    main() if os.environ.get("OCOP_UNITS_IN_VENV") else bootstrap()
