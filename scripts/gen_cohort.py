#!/usr/bin/env python3
"""Generates a synthetic, seeded EMD cohort as interchange jsonl (what `emreg import` reads),
and optionally the same records as headerless CSV, one file per table in the registry's
column order and with the same primary keys (what `sqlite3 .import` reads).

Streams: memory stays flat however many patients. Standard library only.

    scripts/gen_cohort.py --patients 1000000 --jsonl cohort.jsonl [--csv DIR] [--seed 1]
    scripts/gen_cohort.py --patients 10000000 --max-records 200000 --no-biopsies --jsonl sync.jsonl

The cohort: mostly multiple myeloma, some other plasma cell and myeloproliferative neoplasms;
about 13 % of patients with extramedullary disease (EMD), at diagnosis or during the course,
with sites by category, region and ICD-O-3 topography; biopsies of sites and of the bone
marrow; follow-ups every 6–18 months until the last contact or death (shorter survival with
EMD). Dates fall between 2005 and 2026-06-30. Ids are UUIDv7, time-ordered like emreg's own.

Prints one JSON object on stdout with the record counts.
"""

import argparse
import datetime
import json
import math
import os
import random
import sys

END = datetime.date(2026, 6, 30)
END_ORD = END.toordinal()
FIRST_DX = datetime.date(2005, 1, 1).toordinal()
LAST_DX = datetime.date(2026, 3, 31).toordinal()

# diagnosis, share of patients, icd10, morphology, probability of EMD
DIAGNOSES = [
    ("multiple-myeloma", 0.82, "C90.00", "9732/3", 0.11),
    ("solitary-plasmacytoma-of-bone", 0.04, "C90.30", "9731/3", 0.20),
    ("extramedullary-plasmacytoma", 0.03, "C90.20", "9734/3", 1.00),
    ("plasma-cell-leukemia", 0.02, "C90.10", "9733/3", 0.15),
    ("primary-myelofibrosis", 0.03, "D47.4", "9961/3", 0.04),
    ("polycythemia-vera", 0.02, "D45", "9950/3", 0.01),
    ("essential-thrombocythemia", 0.02, "D47.3", "9962/3", 0.01),
    ("chronic-myeloid-leukemia", 0.02, "C92.10", "9875/3", 0.01),
]
DX_CUM = []
_acc = 0.0
for _d in DIAGNOSES:
    _acc += _d[1]
    DX_CUM.append(_acc)

# Paraskeletal: arising from bone, so the topography is the bone or the soft tissue over it.
PARASKELETAL = [  # region, weight, [topographies], laterality
    ("paravertebral", 30, ["C41.2", "C49.6"], "midline"),
    ("thorax", 25, ["C41.3", "C49.3"], "side"),
    ("head-neck", 15, ["C41.0", "C49.0"], None),
    ("pelvis", 15, ["C41.4", "C49.5"], "side"),
    ("upper-limb", 7, ["C40.0", "C49.1"], "side"),
    ("lower-limb", 8, ["C40.2", "C49.2"], "side"),
]
# Extraosseous: soft tissue or organ without bone contact (never C40/C41).
EXTRAOSSEOUS = [
    ("skin", 14, ["C44.5", "C44.6", "C44.7"], "side"),
    ("liver", 13, ["C22.0"], None),
    ("lymph-node", 13, ["C77.0", "C77.1", "C77.2", "C77.4"], None),
    ("pleura", 9, ["C38.4"], "side"),
    ("spleen", 6, ["C42.2"], None),
    ("central-nervous-system", 8, ["C70.0", "C71.9"], None),
    ("abdomen", 10, ["C48.1", "C64.9", "C16.9"], None),
    ("thorax", 8, ["C34.9", "C49.3"], "side"),
    ("head-neck", 9, ["C07.9", "C11.9", "C69.6"], None),
    ("other", 10, ["C50.9", "C73.9", None], None),
]
EMH = [  # extramedullary hematopoiesis in myeloproliferative neoplasms
    ("spleen", 40, ["C42.2"], None),
    ("liver", 30, ["C22.0"], None),
    ("paravertebral", 20, ["C49.6"], "midline"),
    ("pleura", 10, ["C38.4"], "side"),
]
IMAGING = ["pet-ct"] * 8 + ["mri"] * 5 + ["ct"] * 5 + ["ultrasound", "other"]
PROCEDURES = ["core-needle"] * 6 + ["excisional"] * 2 + ["incisional", "fine-needle-aspiration"]
FINDINGS = [
    "CD138+ plasma cells, kappa light chain restricted",
    "CD138+ plasma cells, lambda light chain restricted",
    "sheets of atypical plasma cells; Ki-67 40 %",
    "plasmablastic morphology; CD56 negative",
    "monotypic plasma cell infiltrate",
    None,
]
EMH_FINDINGS = ["trilineage extramedullary hematopoiesis", "megakaryocytes and erythroid precursors", None]
DISEASE = ["remission", "stable", "stable", "progression", "relapse", None]
GIVEN_F = ["Anna", "Maria", "Eva", "Jana", "Helga", "Ingrid", "Ruth", "Petra", "Clara", "Irene", "Lena", "Marta"]
GIVEN_M = ["Peter", "Jan", "Karl", "Josef", "Thomas", "Michael", "Paul", "Hans", "Pavel", "Erik", "Lukas", "Ivan"]
FAMILY = ["Novak", "Muller", "Schmidt", "Svoboda", "Dvorak", "Weber", "Wagner", "Becker", "Horak", "Kral", "Fischer",
          "Hoffmann", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Cerny", "Pokorny"]


def weighted(rng, table):
    total = sum(t[1] for t in table)
    x = rng.random() * total
    for t in table:
        x -= t[1]
        if x < 0:
            return t
    return table[-1]


class Ids:
    """UUIDv7 text: a synthetic millisecond clock advancing per id, seeded random bits."""

    def __init__(self, rng):
        self.rng = rng
        self.ms = 1_704_067_200_000  # 2024-01-01

    def make(self):
        self.ms += 1
        r = self.rng.getrandbits(74)
        h = "%012x7%03x%x%015x" % (self.ms, r >> 62, 8 | (r >> 60 & 3), r & ((1 << 60) - 1))
        return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def iso(ordinal):
    return datetime.date.fromordinal(ordinal).isoformat()


def q(v):
    """A JSON value: strings are plain ASCII here, so no escaping is needed."""
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    return '"' + v + '"'


def obj(pairs):
    return "{" + ",".join(f'"{k}":{q(v)}' for k, v in pairs if v is not None) + "}"


def csv_row(values):
    return ",".join("" if v is None else (f'"{v}"' if isinstance(v, str) and ("," in v or '"' in v) else str(v))
                    for v in values) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--max-records", type=int, default=0, help="stop once this many records are written")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--csv", help="also write headerless CSV per table into this directory")
    ap.add_argument("--no-biopsies", action="store_true")
    ap.add_argument("--mrn-prefix", default="MM")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    ids = Ids(rng)
    out = open(a.jsonl, "w", buffering=1 << 20)
    tables = ["patients", "patient_identities", "cases", "sites", "biopsies", "follow_ups"]
    csv = {t: open(os.path.join(a.csv, t + ".csv"), "w", buffering=1 << 20) for t in tables} if a.csv else None
    n = {"patients": 0, "cases": 0, "sites": 0, "biopsies": 0, "followUps": 0, "emdPatients": 0,
         "emdAtDiagnosis": 0, "deaths": 0}

    def records():
        return n["patients"] + n["cases"] + n["sites"] + n["biopsies"] + n["followUps"]

    for i in range(a.patients):
        if a.max_records and records() >= a.max_records:
            break
        pid = ids.make()
        female = rng.random() < 0.45
        sex = "female" if female else "male"
        dx = rng.randint(FIRST_DX, LAST_DX)
        dx_year = datetime.date.fromordinal(dx).year
        age = min(95, max(28, int(rng.gauss(68, 10))))
        birth_year = dx_year - age
        birth_date = None
        if rng.random() < 0.7:
            birth_date = iso(datetime.date(birth_year, 1, 1).toordinal() + rng.randrange(365))
        name = f"{rng.choice(GIVEN_F if female else GIVEN_M)} {rng.choice(FAMILY)}"
        mrn = "%s%08d" % (a.mrn_prefix, i + 1)
        patient = obj([("id", pid), ("mrn", mrn), ("name", name), ("sex", sex), ("birthYear", birth_year),
                       ("birthDate", birth_date)])
        n["patients"] += 1
        if csv:
            csv["patients"].write(csv_row([pid, sex, birth_year]))
            csv["patient_identities"].write(csv_row([pid, mrn, name, birth_date]))

        # The primary case, and for 2 % a second one later (a plasmacytoma that progressed).
        x = rng.random()
        k = next((j for j, c in enumerate(DX_CUM) if x < c), 0)
        plan = [(DIAGNOSES[k], dx)]
        if DIAGNOSES[k][0] == "solitary-plasmacytoma-of-bone" and rng.random() < 0.5 and dx + 400 < LAST_DX:
            plan.append((DIAGNOSES[0], rng.randint(dx + 180, min(LAST_DX, dx + 3000))))
        elif rng.random() < 0.01 and dx + 400 < LAST_DX:
            plan.append((DIAGNOSES[rng.randrange(1, len(DIAGNOSES))], rng.randint(dx + 180, LAST_DX)))

        # Survival from the first diagnosis; EMD shortens it. Censored at END or lost earlier.
        has_emd = rng.random() < plan[0][0][4]
        median_months = 28 if has_emd else 66
        if plan[0][0][0] in ("polycythemia-vera", "essential-thrombocythemia"):
            median_months *= 3
        death = dx + int(rng.expovariate(math.log(2) / (median_months * 30.4375)))
        last_contact = END_ORD if rng.random() < 0.8 else rng.randint(dx, END_ORD)
        end = min(death, last_contact)
        died = death <= last_contact
        if has_emd:
            n["emdPatients"] += 1

        cases_json = []
        for ci, ((diagnosis, _, icd10, morphology, _p), cdx) in enumerate(plan):
            if ci > 0 and cdx > end:
                continue  # no second diagnosis after death or the last contact
            cid = ids.make()
            n["cases"] += 1
            if rng.random() < 0.1:
                icd10 = None
            if rng.random() < 0.1:
                morphology = None
            case_pairs = [("id", cid), ("diagnosis", diagnosis), ("diagnosedOn", iso(cdx)), ("icd10", icd10),
                          ("morphology", morphology)]
            if csv:
                csv["cases"].write(csv_row([cid, pid, diagnosis, iso(cdx), icd10, morphology]))
            sites, biopsies, follow_ups = [], [], []
            case_end = max(end, cdx)

            if has_emd and ci == 0:
                emh = diagnosis in ("primary-myelofibrosis", "polycythemia-vera", "essential-thrombocythemia",
                                    "chronic-myeloid-leukemia")
                at_dx = diagnosis == "extramedullary-plasmacytoma" or rng.random() < 0.45 or case_end - cdx < 120
                first = cdx + rng.randrange(0, 25) if at_dx else rng.randint(cdx + 90, case_end)
                first = min(first, END_ORD)
                if at_dx:
                    n["emdAtDiagnosis"] += 1
                count = 1 if rng.random() < 0.75 else (2 if rng.random() < 0.72 else 3)
                for s in range(count):
                    detected = first if s == 0 else max(first, min(case_end, first + rng.randrange(0, 400)))
                    if emh:
                        category, table = "extraosseous", EMH
                    elif diagnosis == "extramedullary-plasmacytoma":
                        category, table = "extraosseous", EXTRAOSSEOUS
                    elif diagnosis == "solitary-plasmacytoma-of-bone" or rng.random() < 0.6:
                        category, table = "paraskeletal", PARASKELETAL
                    else:
                        category, table = "extraosseous", EXTRAOSSEOUS
                    region, _w, topos, side = weighted(rng, table)
                    topography = rng.choice(topos)
                    if rng.random() < 0.1:
                        topography = None
                    laterality = None
                    if side == "side":
                        laterality = rng.choice(["left", "right"]) if rng.random() < 0.9 else "bilateral"
                    elif side == "midline":
                        laterality = "midline"
                    size = int(rng.lognormvariate(3.4, 0.5)) if rng.random() < 0.9 else None
                    size = None if size is None else max(3, min(size, 400))
                    imaging = rng.choice(IMAGING) if rng.random() < 0.95 else None
                    timing = "at-diagnosis" if detected - cdx <= 30 else "during-course"
                    sid = ids.make()
                    n["sites"] += 1
                    sites.append(obj([("id", sid), ("detectedOn", iso(detected)), ("timing", timing),
                                      ("category", category), ("region", region), ("topography", topography),
                                      ("laterality", laterality), ("sizeMm", size), ("imaging", imaging)]))
                    if csv:
                        csv["sites"].write(csv_row([sid, cid, iso(detected), timing, category, region, topography,
                                                    laterality, size, imaging]))
                    if s == 0 and not a.no_biopsies and rng.random() < 0.6:
                        bid = ids.make()
                        n["biopsies"] += 1
                        on = min(END_ORD, detected + rng.randrange(0, 15))
                        if emh:
                            morph, finding = None, rng.choice(EMH_FINDINGS)
                        else:
                            bone = topography is not None and topography[:3] in ("C40", "C41")
                            morph = ("9731/3" if bone else "9734/3") if topography is not None else "9734/3"
                            if topography is None and category == "paraskeletal":
                                morph = None
                            finding = rng.choice(FINDINGS)
                        procedure = rng.choice(PROCEDURES)
                        biopsies.append(obj([("id", bid), ("siteId", sid), ("performedOn", iso(on)),
                                             ("procedure", procedure), ("morphology", morph),
                                             ("finding", finding)]))
                        if csv:
                            csv["biopsies"].write(csv_row([bid, cid, sid, iso(on), procedure, morph, finding]))

            # A bone-marrow biopsy at diagnosis for 40 % of myeloma cases.
            if not a.no_biopsies and diagnosis == "multiple-myeloma" and rng.random() < 0.4:
                bid = ids.make()
                n["biopsies"] += 1
                on = min(END_ORD, cdx + rng.randrange(0, 10))
                biopsies.append(obj([("id", bid), ("performedOn", iso(on)), ("procedure", "bone-marrow"),
                                     ("morphology", "9732/3"), ("finding", "clonal plasma cells 35 %")]))
                if csv:
                    csv["biopsies"].write(csv_row([bid, cid, None, iso(on), "bone-marrow", "9732/3",
                                                   "clonal plasma cells 35 %"]))

            # Follow-ups every 6-18 months after diagnosis, at most 4 kept (the last ones),
            # then the last contact: dead or alive.
            visits = []
            t = cdx + rng.randint(180, 540)
            while t < end:
                visits.append(t)
                t += rng.randint(180, 540)
            visits = visits[-3:]
            if end > cdx:
                visits.append(end)
            if not visits:
                visits = [cdx]
            for vi, on in enumerate(visits):
                final = vi == len(visits) - 1
                vital = "dead" if final and died else "alive"
                status = rng.choice(DISEASE)
                fid = ids.make()
                n["followUps"] += 1
                follow_ups.append(obj([("id", fid), ("on", iso(on)), ("vitalStatus", vital),
                                       ("diseaseStatus", status)]))
                if csv:
                    csv["follow_ups"].write(csv_row([fid, cid, iso(on), vital, status]))
            if died and ci == 0:
                n["deaths"] += 1

            body = obj(case_pairs)[:-1]
            if sites:
                body += ',"sites":[' + ",".join(sites) + "]"
            if biopsies:
                body += ',"biopsies":[' + ",".join(biopsies) + "]"
            if follow_ups:
                body += ',"followUps":[' + ",".join(follow_ups) + "]"
            cases_json.append(body + "}")
        out.write('{"patient":' + patient + ',"cases":[' + ",".join(cases_json) + "]}\n")

    out.close()
    if csv:
        for f in csv.values():
            f.close()
    n["records"] = records()
    json.dump(n, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
