//! Synthetic extractions for tests and benchmarks: the real format (header,
//! 31 columns), plausible French names, TRE_G15 professions, structures
//! with valid FINESS, addresses, the four mailbox types, and identifiers
//! whose check keys hold, so that every line passes the importer.
//!
//! Deterministic: the same seed gives the same file. Names follow a skewed
//! distribution (a few very common surnames, a long tail), like real ones,
//! so that searches meet both rare and very common words.

use std::collections::HashMap;
use std::io::{self, Write};

use mss_core::{Finess, fold_label, luhn_check_digit};

use super::extraction::HEADER;

const LAST_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Müller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Martínez",
    "Gérard",
    "Roche",
    "Renard",
    "Schmitt",
    "Roy",
    "Leroux",
    "Colin",
    "Vidal",
    "Caron",
    "Picard",
    "Roger",
    "Fabre",
    "Aubert",
    "Lemoine",
    "Renaud",
    "Dumas",
    "Lacroix",
    "Olivier",
    "Philippe",
    "Bourgeois",
    "Pierre",
    "Benoît",
    "Rey",
    "Leclerc",
    "Payet",
    "Rolland",
    "Leclercq",
    "Guillaume",
    "Lecomte",
    "Lopez",
    "Jean",
    "Dupuy",
    "Guillot",
    "Hubert",
    "Berger",
    "Carpentier",
    "Sánchez",
    "Dupuis",
    "Moulin",
    "Louis",
    "Deschamps",
    "Huet",
    "Vasseur",
    "Perez",
    "Boucher",
    "Fleury",
    "Royer",
    "Klein",
    "Jacquet",
    "Adam",
    "Paris",
    "Poirier",
    "Marty",
    "Aubry",
    "Guyot",
    "Carré",
    "Charles",
    "Renault",
    "Charpentier",
    "Ménard",
    "Maillard",
    "Baron",
    "Bertin",
    "Bailly",
    "Hervé",
    "Schneider",
    "Fernandez",
    "Le Gall",
    "Collet",
    "Léger",
    "Bouvier",
    "Julien",
    "Prévost",
    "Millet",
    "Perrot",
    "Daniel",
    "Le Roux",
    "Cousin",
    "Germain",
    "Breton",
    "Besson",
    "Langlois",
    "Rémy",
    "Le Goff",
    "Pelletier",
    "Lévêque",
    "Perrier",
    "Leblanc",
    "Barré",
    "Lebrun",
    "Marchal",
    "Weber",
    "Mallet",
    "Hamon",
    "Boulanger",
    "Jacob",
    "Monnier",
    "Michaud",
    "Rodriguez",
    "Guichard",
    "Gillet",
    "Étienne",
    "Grondin",
    "Poulain",
    "Tessier",
    "Chevallier",
    "Collin",
    "Chauvin",
    "Da Silva",
    "Bouchet",
    "Gay",
    "Lemaître",
    "Bénard",
    "Maréchal",
    "Humbert",
    "Reynaud",
    "Antoine",
    "Hoarau",
    "Perret",
    "Barthélemy",
    "Cordier",
    "Pichon",
    "Lejeune",
    "Gilbert",
    "Lamy",
    "Delaunay",
    "Pasquier",
    "Carlier",
    "Laporte",
    "D'Arc",
    "Saint-Jean",
];

const FIRST_NAMES: &[&str] = &[
    "Marie",
    "Jean",
    "Pierre",
    "Michel",
    "André",
    "Philippe",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Catherine",
    "Françoise",
    "Christine",
    "Élodie",
    "Hélène",
    "Jérôme",
    "François",
    "Stéphane",
    "Frédéric",
    "Sébastien",
    "Céline",
    "Aurélie",
    "Émilie",
    "Julien",
    "Nicolas",
    "Camille",
    "Léa",
    "Chloé",
    "Manon",
    "Inès",
    "Zoé",
    "Noémie",
    "Anaïs",
    "Maël",
    "Loïc",
    "Gaël",
    "Benoît",
    "Thérèse",
    "Geneviève",
    "Agnès",
    "Cécile",
    "Joël",
    "Raphaël",
    "Mathéo",
    "Clément",
    "Valérie",
    "Sandrine",
    "Véronique",
    "Laurence",
    "Patrick",
    "Olivier",
    "Thierry",
    "Laurent",
    "Christophe",
    "David",
    "Éric",
    "Alain",
    "Bernard",
    "Daniel",
    "Anne",
    "Sophie",
    "Julie",
    "Sarah",
    "Laura",
    "Pauline",
    "Lucie",
    "Mathilde",
    "Margaux",
    "Hugo",
    "Lucas",
    "Louis",
    "Arthur",
    "Gabriel",
    "Jules",
    "Adam",
    "Paul",
    "Antoine",
    "Thomas",
    "Maxime",
    "Alexandre",
    "Yannick",
    "Gwenaëlle",
    "Solène",
    "Océane",
    "Marie-Hélène",
    "Jean-Pierre",
    "Jean-François",
    "Anne-Sophie",
    "Pierre-Yves",
];

/// TRE_G15 professions: code, label, ADELI (true) or RPPS registry.
const PROFESSIONS: &[(&str, &str, bool)] = &[
    ("10", "Médecin", false),
    ("21", "Pharmacien", false),
    ("40", "Chirurgien-Dentiste", false),
    ("50", "Sage-Femme", false),
    ("60", "Infirmier", false),
    ("70", "Masseur-Kinésithérapeute", false),
    ("80", "Pédicure-Podologue", false),
    ("26", "Audioprothésiste", true),
    ("28", "Opticien-Lunetier", true),
    ("91", "Orthophoniste", true),
    ("92", "Orthoptiste", true),
    ("93", "Psychologue", true),
    ("94", "Ergothérapeute", true),
    ("95", "Diététicien", true),
    ("96", "Psychomotricien", true),
];

/// Savoir-faire of physicians (TRE_R38 specialties).
const SPECIALTIES: &[(&str, &str)] = &[
    ("SM54", "Qualifié en Médecine Générale"),
    ("SM04", "Cardiologie et maladies vasculaires"),
    ("SM15", "Dermatologie et vénéréologie"),
    ("SM40", "Pédiatrie"),
    ("SM38", "Ophtalmologie"),
    ("SM42", "Psychiatrie"),
    ("SM44", "Radio-diagnostic"),
    ("SM26", "Gynécologie-obstétrique"),
    ("SM02", "Anesthésie-réanimation"),
    ("SM53", "Spécialiste en Médecine Générale"),
];

/// City, first postal code, number of arrondissements or postal codes.
const CITIES: &[(&str, u32, u32)] = &[
    ("PARIS", 75001, 20),
    ("MARSEILLE", 13001, 16),
    ("LYON", 69001, 9),
    ("TOULOUSE", 31000, 5),
    ("NICE", 6000, 4),
    ("NANTES", 44000, 3),
    ("STRASBOURG", 67000, 3),
    ("MONTPELLIER", 34000, 3),
    ("BORDEAUX", 33000, 3),
    ("LILLE", 59000, 2),
    ("RENNES", 35000, 2),
    ("REIMS", 51100, 1),
    ("SAINT-ÉTIENNE", 42000, 2),
    ("LE HAVRE", 76600, 1),
    ("TOULON", 83000, 2),
    ("GRENOBLE", 38000, 2),
    ("DIJON", 21000, 1),
    ("ANGERS", 49000, 1),
    ("NÎMES", 30000, 2),
    ("AJACCIO", 20000, 1),
    ("BASTIA", 20200, 1),
    ("SAINT-DENIS", 97400, 1),
    ("FORT-DE-FRANCE", 97200, 1),
    ("BESANÇON", 25000, 1),
    ("ORLÉANS", 45000, 1),
    ("ÉVRY-COURCOURONNES", 91000, 1),
    ("BREST", 29200, 1),
    ("LIMOGES", 87000, 1),
    ("CLERMONT-FERRAND", 63000, 1),
    ("AMIENS", 80000, 1),
];

const WAY_TYPES: &[&str] = &["R", "AV", "BD", "PL", "CHE", "ALL", "IMP", "QUAI"];
const WAY_NAMES: &[&str] = &[
    "de la République",
    "Victor Hugo",
    "Jean Jaurès",
    "des Lilas",
    "du Général de Gaulle",
    "Pasteur",
    "de la Gare",
    "Gambetta",
    "Émile Zola",
    "des Écoles",
    "du Maréchal Foch",
    "de l'Église",
    "Voltaire",
    "Paul Bert",
    "des Tilleuls",
    "Molière",
    "Carnot",
    "de la Libération",
    "Saint-Michel",
    "Nationale",
];

const DOMAINS: &[&str] = &[
    "medecin.mssante.fr",
    "pharmacien.mssante.fr",
    "infirmier.mssante.fr",
    "ap-hp.mssante.fr",
    "chu-lyon.mssante.fr",
    "mssante.apicrypt.org",
    "kine.mssante.fr",
    "sante-idf.mssante.fr",
];

/// Structures: a kind of establishment and how its name is built.
const STRUCTURES: &[&str] = &[
    "PHARMACIE DU CENTRE",
    "PHARMACIE DE LA GARE",
    "CENTRE HOSPITALIER",
    "CLINIQUE SAINT-JOSEPH",
    "EHPAD LES TILLEULS",
    "CENTRE DE SANTÉ MUNICIPAL",
    "LABORATOIRE DE BIOLOGIE MÉDICALE",
    "MAISON DE SANTÉ PLURIPROFESSIONNELLE",
    "CABINET DE RADIOLOGIE",
    "CENTRE MÉDICO-PSYCHOLOGIQUE",
];

const SERVICES: &[&str] = &["Secrétariat", "Accueil", "Cardiologie", "Urgences", "Pharmacie", "Radiologie"];
const SOFTWARE: &[&str] = &["Logiciel de laboratoire", "Passerelle DMP", "Logiciel d'officine", "Dossier patient"];

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Skewed towards the start of the list (common names first).
    fn skewed<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        let a = self.below(list.len());
        let b = self.below(list.len());
        &list[a.min(b)]
    }

    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[self.below(list.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Writes a header and `lines` mailbox lines.
pub fn write(out: &mut impl Write, lines: u64, seed: u64) -> io::Result<()> {
    let mut rng = Rng(seed);
    let mut taken: HashMap<String, u32> = HashMap::new();
    writeln!(out, "{}", HEADER.join("|"))?;
    for n in 0..lines {
        let line = generate(&mut rng, n, &mut taken);
        writeln!(out, "{}", line.join("|"))?;
    }
    out.flush()
}

/// A free local part: `base`, then `base2`, `base3`...
fn unique(taken: &mut HashMap<String, u32>, base: String) -> String {
    let count = taken.entry(base.clone()).or_insert(0);
    *count += 1;
    if *count == 1 { base } else { format!("{base}{count}") }
}

/// A valid FINESS in the department of `postal`.
fn finess(rng: &mut Rng, postal: &str) -> String {
    let department = match super::extraction::department_of(postal).as_str() {
        d if d.len() == 2 => d.to_string(),
        // Overseas FINESS start with 97 too; Corsica keeps its letter.
        _ => "97".to_string(),
    };
    let payload = format!("{department}{:06}", rng.next() % 1_000_000);
    let key = Finess::check_digit(&payload).unwrap_or(0);
    format!("{payload}{key}")
}

/// An RPPS made unique by the line number.
fn rpps(n: u64) -> String {
    let payload = format!("10{:08}", n % 100_000_000);
    format!("{payload}{}", luhn_check_digit(&payload).unwrap_or(0))
}

/// An ADELI of `profession` in the department of `postal` (digits only).
fn adeli(rng: &mut Rng, postal: &str, profession: &str) -> String {
    let department = postal.get(..2).filter(|d| *d != "20" && *d != "97").unwrap_or("75");
    let payload = format!("{department}{profession}{:04}", rng.next() % 10_000);
    format!("{payload}{}", luhn_check_digit(&payload).unwrap_or(0))
}

/// One line's 31 columns.
fn generate(rng: &mut Rng, n: u64, taken: &mut HashMap<String, u32>) -> Vec<String> {
    let mut f = vec![String::new(); HEADER.len()];
    let (city, first_code, codes) = *rng.skewed(CITIES);
    let postal = format!("{:05}", first_code + rng.below(codes as usize) as u32);
    let kind = match rng.next() % 100 {
        0..=69 => "PER",
        70..=87 => "ORG",
        88..=93 => "APP",
        _ => "CAB",
    };
    let domain = *rng.pick(DOMAINS);
    let structure = format!("{} {}", rng.pick(STRUCTURES), rng.pick(LAST_NAMES).to_uppercase());
    let structure_finess = finess(rng, &postal);
    f[0] = kind.to_string();
    match kind {
        "PER" => {
            let (last, first) = (*rng.skewed(LAST_NAMES), *rng.skewed(FIRST_NAMES));
            let (code, label, is_adeli) = *rng.skewed(PROFESSIONS);
            let id = if is_adeli { adeli(rng, &postal, code) } else { rpps(n) };
            let id_type = if is_adeli { "0" } else { "8" };
            let local = unique(taken, format!("{}.{}", fold_label(first), fold_label(last)));
            f[1] = format!("{local}@{domain}");
            f[2] = id_type.into();
            f[4] = format!("{id_type}{id}");
            f[3] = id;
            f[8] = if matches!(code, "10" | "21" | "40") { "DR".into() } else { String::new() };
            f[9] = last.to_uppercase();
            f[10] = first.into();
            f[11] = "C".into();
            f[12] = "Civil".into();
            f[13] = code.into();
            f[14] = label.into();
            if code == "10" {
                let (sf, sf_label) = *rng.skewed(SPECIALTIES);
                f[15] = sf.into();
                f[16] = sf_label.into();
            }
            if rng.chance(40) {
                f[5] = "1".into();
                f[6] = format!("1{structure_finess}");
                f[18] = structure;
            }
        }
        _ => {
            let local = match kind {
                "ORG" => format!("{}-{}", fold_label(&structure), postal),
                "APP" => format!("app-{}", fold_label(&structure)),
                _ => format!("cabinet-{}", fold_label(&structure)),
            };
            f[1] = format!("{}@{domain}", unique(taken, local));
            if kind == "CAB" {
                f[5] = "4".into();
                f[6] = format!("4{}0001", rpps(n));
            } else {
                f[5] = "1".into();
                f[6] = format!("1{structure_finess}");
            }
            f[7] = match kind {
                "APP" => rng.pick(SOFTWARE).to_string(),
                _ => rng.pick(SERVICES).to_string(),
            };
            f[18] = structure;
            if rng.chance(30) {
                f[19] = format!("{} {}", rng.pick(&["PHARMACIE", "CENTRE", "CABINET"]), city);
            }
        }
    }
    f[17] = if rng.chance(90) { "O".into() } else { "N".into() };
    if rng.chance(20) {
        f[20] = format!("Bâtiment {}", rng.pick(&["A", "B", "C"]));
    }
    f[22] = (1 + rng.below(150)).to_string();
    f[23] = if rng.chance(10) { "B".into() } else { String::new() };
    f[24] = rng.pick(WAY_TYPES).to_string();
    f[25] = rng.skewed(WAY_NAMES).to_string();
    f[27] = format!("{postal} {city}");
    f[28] = postal.clone();
    f[29] = super::extraction::department_of(&postal);
    f[30] = "France".into();
    f
}
