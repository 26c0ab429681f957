//! The Annuaire Santé import and search on real files and real SQLite:
//! good and bad lines, every bad-input case of the issue (each leaving the
//! previous snapshot intact), re-imports, ZIPs, searches, the generator.

use std::io::Write;
use std::path::{Path, PathBuf};

use mss_directory::annuaire::extraction::{HEADER, parse_line};
use mss_directory::annuaire::{Annuaire, ImportError, Page, Query, import, synth};

/// A valid PER line; `set` overrides columns.
fn per(address: &str, last: &str, first: &str, rpps: &str, set: &[(usize, &str)]) -> String {
    let mut f: Vec<String> = vec![String::new(); 31];
    let values: [(usize, &str); 17] = [
        (0, "PER"),
        (1, address),
        (2, "8"),
        (3, rpps),
        (8, "DR"),
        (9, last),
        (10, first),
        (11, "C"),
        (12, "Civil"),
        (13, "10"),
        (14, "Médecin"),
        (22, "12"),
        (24, "R"),
        (25, "de la République"),
        (27, "75011 PARIS"),
        (28, "75011"),
        (30, "France"),
    ];
    for (i, v) in values {
        f[i] = v.to_string();
    }
    f[4] = format!("8{rpps}");
    for (i, v) in set {
        f[*i] = v.to_string();
    }
    f.join("|")
}

/// A valid ORG line of a pharmacy.
fn org(address: &str, company: &str, finess: &str, postal: &str, city: &str) -> String {
    let mut f: Vec<String> = vec![String::new(); 31];
    for (i, v) in [
        (0, "ORG"),
        (1, address),
        (5, "1"),
        (7, "Pharmacie"),
        (18, company),
        (24, "AV"),
        (25, "Jean Jaurès"),
        (28, postal),
        (30, "France"),
    ] {
        f[i] = v.to_string();
    }
    f[6] = format!("1{finess}");
    f[27] = format!("{postal} {city}");
    f.join("|")
}

const RPPS: &str = "10003621892";
const FINESS: &str = "750000002";

fn file(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = HEADER.join("|");
    text.push('\n');
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn base_lines() -> Vec<String> {
    vec![
        per("elodie.dupont@medecin.mssante.fr", "DUPONT", "Élodie", RPPS, &[]),
        per(
            "jean.martin@medecin.mssante.fr",
            "MARTIN",
            "Jean",
            "10000000017",
            &[(28, "13001"), (27, "13001 MARSEILLE")],
        ),
        per(
            "helene.lefevre@medecin.mssante.fr",
            "LEFÈVRE",
            "Hélène",
            "10000000025",
            &[(28, "20200"), (27, "20200 BASTIA")],
        ),
        org("pharmacie-centre-75011@pharmacien.mssante.fr", "PHARMACIE DU CENTRE", FINESS, "75011", "PARIS"),
    ]
}

fn no_progress(_: mss_directory::annuaire::Progress) {}

fn search(annuaire: &Annuaire, q: &str) -> Vec<String> {
    let query = Query::parse(q).unwrap();
    annuaire.search(&query, Page::new(1, 20).unwrap(), &[]).unwrap().hits.into_iter().map(|h| h.address).collect()
}

#[test]
fn good_and_bad_lines() {
    assert!(parse_line(&base_lines()[0]).is_ok());
    let cases = [
        (per("a@b.fr", "X", "Y", RPPS, &[(0, "XYZ")]), "Type de BAL"),
        (per("not an address", "X", "Y", RPPS, &[]), "Adresse BAL"),
        (per("a@b.fr", "X", "Y", "10003621893", &[]), "check key"),
        (per("a@b.fr", "X", "Y", RPPS, &[(4, "810000000025")]), "Identification nationale PP"),
        (per("a@b.fr", "", "Y", RPPS, &[]), "Nom d'exercice"),
        (per("a@b.fr", "X", "Y", RPPS, &[(28, "7501")]), "Code postal"),
        (org("o@b.fr", "P", "750000003", "75011", "PARIS"), "finess"),
        ("PER|a@b.fr|8".to_string(), "3 columns"),
        (format!("{}|extra", base_lines()[0]), "32 columns"),
    ];
    for (line, reason) in cases {
        let error = parse_line(&line).expect_err(&line);
        assert!(error.0.contains(reason), "{line}: {error}");
    }
}

#[test]
fn import_then_reimport_adds_updates_and_removes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("annuaire");
    let mut lines = base_lines();
    lines.insert(2, "PER|broken".to_string());
    let first = import(&data, &file(dir.path(), "v1.txt", &lines), &no_progress).unwrap();
    assert_eq!((first.sequence, first.lines, first.entries, first.rejected_count), (1, 5, 4, 1));
    assert_eq!(first.rejected[0].0, 4, "line numbers count the header");
    let annuaire = Annuaire::new(&data, None);
    assert_eq!(search(&annuaire, "martin"), ["jean.martin@medecin.mssante.fr"]);

    // v2: Martin moves to Lyon, Lefèvre leaves, a new pharmacist arrives.
    let mut v2 = base_lines();
    v2[1] =
        per("jean.martin@medecin.mssante.fr", "MARTIN", "Jean", "10000000017", &[(28, "69003"), (27, "69003 LYON")]);
    v2.remove(2);
    v2.push(per("paul.roux@pharmacien.mssante.fr", "ROUX", "Paul", "10000000033", &[(13, "21"), (14, "Pharmacien")]));
    let second = import(&data, &file(dir.path(), "v2.txt", &v2), &no_progress).unwrap();
    assert_eq!((second.sequence, second.added, second.updated, second.removed), (2, 1, 1, 1));
    assert_eq!(search(&annuaire, "cp:69003"), ["jean.martin@medecin.mssante.fr"]);
    assert!(search(&annuaire, "lefevre").is_empty());
    assert_eq!(search(&annuaire, "roux"), ["paul.roux@pharmacien.mssante.fr"]);
    assert_eq!(annuaire.info().unwrap().unwrap().entries, 4);
}

/// Every bad file is refused with a clear error and the directory stays.
#[test]
fn bad_input_leaves_the_previous_snapshot_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("annuaire");
    import(&data, &file(dir.path(), "good.txt", &base_lines()), &no_progress).unwrap();
    let annuaire = Annuaire::new(&data, None);
    let intact = |what: &str| {
        assert_eq!(search(&annuaire, "dupont"), ["elodie.dupont@medecin.mssante.fr"], "{what}");
        assert_eq!(annuaire.info().unwrap().unwrap().sequence, 1, "{what}");
        assert!(!data.join("annuaire.sqlite.new").exists(), "{what}");
    };

    let mut header = HEADER.join("|").replace("Nom d'exercice", "Nom");
    header.push('\n');
    let wrong_header = dir.path().join("wrong-header.txt");
    std::fs::write(&wrong_header, format!("{header}{}\n", base_lines()[0])).unwrap();
    let error = import(&data, &wrong_header, &no_progress).unwrap_err();
    assert!(error.to_string().contains("column 10 is \"Nom\""), "{error}");
    intact("wrong header");

    let short_header = dir.path().join("short-header.txt");
    std::fs::write(&short_header, format!("{}\n{}\n", HEADER[..30].join("|"), base_lines()[0])).unwrap();
    let error = import(&data, &short_header, &no_progress).unwrap_err();
    assert!(error.to_string().contains("30 columns in the header"), "{error}");
    intact("column count");

    let latin1 = dir.path().join("latin1.txt");
    let mut bytes = format!("{}\n", HEADER.join("|")).into_bytes();
    bytes.extend(base_lines()[1].as_bytes());
    bytes.extend(b"\n");
    bytes.extend(base_lines()[0].replace("Élodie", "\u{1}").as_bytes());
    let at = bytes.iter().rposition(|&b| b == 1).unwrap();
    bytes[at] = 0xC9; // "É" in Latin-1
    bytes.extend(b"\n");
    std::fs::write(&latin1, bytes).unwrap();
    let error = import(&data, &latin1, &no_progress).unwrap_err();
    assert!(
        matches!(error, ImportError::Extraction(_)) && error.to_string().contains("line 3: not valid UTF-8"),
        "{error}"
    );
    intact("invalid UTF-8");

    let truncated = file(dir.path(), "truncated.txt", &base_lines());
    let text = std::fs::read_to_string(&truncated).unwrap();
    std::fs::write(&truncated, &text[..text.len() - 40]).unwrap();
    let error = import(&data, &truncated, &no_progress).unwrap_err();
    assert!(error.to_string().contains("line 5: the file ends in the middle"), "{error}");
    intact("truncated last line");

    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    assert!(import(&data, &empty, &no_progress).unwrap_err().to_string().contains("empty"));
    let only_bad = file(dir.path(), "only-bad.txt", &["PER|x".to_string()]);
    assert!(matches!(import(&data, &only_bad, &no_progress), Err(ImportError::NoEntry)));
    intact("no valid line");

    let bomb = dir.path().join("bomb.zip");
    write_zip(&bomb, &[("extraction.txt", &vec![b'0'; 20 << 20])]);
    let error = import(&data, &bomb, &no_progress).unwrap_err();
    assert!(error.to_string().contains("ZIP bomb"), "{error}");
    intact("zip bomb");

    let good = std::fs::read(file(dir.path(), "v2.txt", &base_lines()[..1])).unwrap();
    let traversal = dir.path().join("traversal.zip");
    write_zip(&traversal, &[("../../etc/extraction.txt", &good)]);
    let error = import(&data, &traversal, &no_progress).unwrap_err();
    assert!(error.to_string().contains("unsafe"), "{error}");
    let two = dir.path().join("two.zip");
    write_zip(&two, &[("a.txt", &good), ("b.csv", &good)]);
    assert!(import(&data, &two, &no_progress).unwrap_err().to_string().contains("exactly one"));
    intact("path traversal in a ZIP");
}

fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn a_zip_holding_the_extraction_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(file(dir.path(), "x.txt", &base_lines())).unwrap();
    let archive = dir.path().join("Extraction_Correspondance_MSSante.zip");
    write_zip(&archive, &[("README", b"notice"), ("Extraction_Correspondance_MSSante.txt", &text)]);
    let report = import(&dir.path().join("annuaire"), &archive, &no_progress).unwrap();
    assert_eq!(report.entries, 4);
}

#[test]
fn searches_fold_accents_and_case_complete_prefixes_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("annuaire");
    let mut lines = base_lines();
    // Someone living rue Martin: found by "martin" after the Martins.
    lines.push(per("alice.abadie@medecin.mssante.fr", "ABADIE", "Alice", "10000000041", &[(25, "Martin"), (24, "R")]));
    // A first name Martine: after the name Martin, before the street.
    lines.push(per("martine.aubert@medecin.mssante.fr", "AUBERT", "Martine", "10000000058", &[]));
    lines.push(per(
        "rene.martin@infirmier.mssante.fr",
        "MARTIN",
        "René",
        "10000000066",
        &[(13, "60"), (14, "Infirmier")],
    ));
    import(&data, &file(dir.path(), "x.txt", &lines), &no_progress).unwrap();
    let a = Annuaire::new(&data, None);

    assert_eq!(search(&a, "lefevre"), ["helene.lefevre@medecin.mssante.fr"], "accents folded");
    assert_eq!(search(&a, "HÉLÈNE"), ["helene.lefevre@medecin.mssante.fr"], "case folded");
    assert_eq!(search(&a, "élo"), ["elodie.dupont@medecin.mssante.fr"], "prefix");
    assert!(search(&a, "élo ").is_empty(), "a finished word is not a prefix");
    assert_eq!(
        search(&a, "martin"),
        [
            "jean.martin@medecin.mssante.fr",
            "rene.martin@infirmier.mssante.fr",
            "martine.aubert@medecin.mssante.fr",
            "alice.abadie@medecin.mssante.fr",
        ],
        "ranked: name, then other names, then elsewhere; alphabetical within"
    );
    assert_eq!(search(&a, RPPS), ["elodie.dupont@medecin.mssante.fr"], "RPPS");
    assert_eq!(search(&a, FINESS), ["pharmacie-centre-75011@pharmacien.mssante.fr"], "FINESS");
    assert_eq!(search(&a, "13001"), ["jean.martin@medecin.mssante.fr"], "postal code");
    assert_eq!(search(&a, "dep:2B"), ["helene.lefevre@medecin.mssante.fr"], "department from the postal code");
    assert_eq!(search(&a, "type:ORG"), ["pharmacie-centre-75011@pharmacien.mssante.fr"], "type");
    assert_eq!(search(&a, "martin profession:60"), ["rene.martin@infirmier.mssante.fr"], "profession code");
    assert_eq!(search(&a, "profession:infirmier"), ["rene.martin@infirmier.mssante.fr"], "profession label");
    assert_eq!(search(&a, "ville:marseille"), ["jean.martin@medecin.mssante.fr"], "city");
    assert_eq!(search(&a, "adresse:jaures"), ["pharmacie-centre-75011@pharmacien.mssante.fr"], "street");
    assert_eq!(search(&a, "pharmacie paris"), ["pharmacie-centre-75011@pharmacien.mssante.fr"], "words anywhere");

    // Pagination across the tiers: pages of 1 give the same order.
    let query = Query::parse("martin").unwrap();
    let paged: Vec<String> = (1..=5)
        .flat_map(|n| a.search(&query, Page::new(n, 1).unwrap(), &[]).unwrap().hits)
        .map(|h| h.address)
        .collect();
    assert_eq!(paged, search(&a, "martin"));
    let results = a.search(&query, Page::new(2, 3).unwrap(), &[]).unwrap();
    assert_eq!((results.total, results.total_exact, results.hits.len()), (4, true, 1));
}

#[test]
fn synthetic_extractions_pass_the_importer_and_are_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.txt");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    synth::write(&mut out, 5000, 7).unwrap();
    drop(out);
    let text = std::fs::read_to_string(&path).unwrap();
    for kind in ["|PER|", "\nORG|", "\nAPP|", "\nCAB|"] {
        let kind = kind.trim_matches('|');
        assert!(text.lines().any(|l| l.starts_with(kind.trim())), "{kind}");
    }
    let report = import(&dir.path().join("annuaire"), &path, &no_progress).unwrap();
    assert_eq!((report.entries, report.rejected_count), (5000, 0), "{:?}", report.rejected.first());
    let a = Annuaire::new(&dir.path().join("annuaire"), None);
    let results = a.search(&Query::parse("mar").unwrap(), Page::new(1, 20).unwrap(), &[]).unwrap();
    assert_eq!(results.hits.len(), 20);
    assert!(!results.total_exact || results.total >= 20);
    let mut again = Vec::new();
    synth::write(&mut again, 50, 7).unwrap();
    assert_eq!(again, text.as_bytes()[..again.len()], "deterministic");
}

/// A snapshot imported by a release without the saved index is still
/// searched: its entries are indexed when it is opened.
#[test]
fn a_snapshot_without_a_saved_index_is_indexed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("annuaire");
    import(&data, &file(dir.path(), "x.txt", &base_lines()), &no_progress).unwrap();
    let conn = rusqlite::Connection::open(data.join("annuaire.sqlite")).unwrap();
    conn.execute_batch("DROP TABLE search_index; DELETE FROM meta WHERE key = 'search_index';").unwrap();
    drop(conn);
    let a = Annuaire::new(&data, None);
    assert_eq!(search(&a, "hélène"), ["helene.lefevre@medecin.mssante.fr"]);
    assert_eq!(search(&a, FINESS), ["pharmacie-centre-75011@pharmacien.mssante.fr"]);
}
