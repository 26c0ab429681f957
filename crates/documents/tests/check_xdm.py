#!/usr/bin/env python3
"""An independent reader of an IHE XDM package, with Python's standard
library only: checks the file layout (README.TXT, INDEX.HTM, one subset
folder with METADATA.XML), that METADATA.XML parses as ebRIM 3.0, and that
every document entry's URI names a file of the package whose SHA-1 and size
are the ones its slots say. Prints one line per document; exits 1 on the
first problem."""
import hashlib
import sys
import xml.etree.ElementTree as ET
import zipfile

RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
DOCUMENT_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def slot(entry, name):
    for s in entry.findall(f"{RIM}Slot"):
        if s.get("name") == name:
            return [v.text for v in s.iter(f"{RIM}Value")]
    return []


def main(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        for required in ("README.TXT", "INDEX.HTM"):
            if required not in names:
                fail(f"{required} missing from {names}")
        metadata = [n for n in names if n.upper().startswith("IHE_XDM/") and n.upper().endswith("/METADATA.XML")]
        if len(metadata) != 1:
            fail(f"expected one METADATA.XML, found {metadata}")
        folder = metadata[0].rsplit("/", 1)[0]
        root = ET.fromstring(z.read(metadata[0]))
        if not root.tag.endswith("SubmitObjectsRequest"):
            fail(f"root is {root.tag}")
        entries = [e for e in root.iter(f"{RIM}ExtrinsicObject") if e.get("objectType") == DOCUMENT_ENTRY]
        if not entries:
            fail("no document entry")
        for entry in entries:
            (uri,) = slot(entry, "URI")
            (digest,) = slot(entry, "hash")
            (size,) = slot(entry, "size")
            data = z.read(f"{folder}/{uri}")
            if hashlib.sha1(data).hexdigest() != digest.lower():
                fail(f"{uri}: hash {hashlib.sha1(data).hexdigest()} != {digest}")
            if len(data) != int(size):
                fail(f"{uri}: size {len(data)} != {size}")
            patient = [x.get("value") for x in entry.findall(f"{RIM}ExternalIdentifier") if x.get("identificationScheme") == PATIENT_ID]
            if len(patient) != 1:
                fail(f"{uri}: patient ids {patient}")
            ET.fromstring(data)  # the document itself is XML
            print(f"OK {uri} {len(data)} {patient[0]} {entry.get('mimeType')}")


if __name__ == "__main__":
    main(sys.argv[1])
