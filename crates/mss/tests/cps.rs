//! Login with a CPS card held in SoftHSM2 (a real PKCS#11 token): the card
//! made by `mss pki issue-cps`, loaded with softhsm2-util and pkcs11-tool,
//! used by `mss cps login` against a running `mss serve`; then the session
//! creates mailboxes through the API. A card from another CA is refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "1234";

/// A SoftHSM2 token directory of its own.
struct Hsm {
    _dir: tempfile::TempDir,
    conf: PathBuf,
    root: PathBuf,
}

impl Hsm {
    fn new() -> Self {
        assert!(Path::new(MODULE).exists(), "SoftHSM2 is needed (scripts/test installs softhsm2)");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir(root.join("tokens")).unwrap();
        let conf = root.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                root.join("tokens").display()
            ),
        )
        .unwrap();
        Self { _dir: dir, conf, root }
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = Command::new(program).args(args).env("SOFTHSM2_CONF", &self.conf).output();
        out.unwrap_or_else(|e| panic!("{program} is needed (scripts/test installs it): {e}"))
    }

    fn ok(&self, program: &str, args: &[&str]) {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A token holding the card made by `mss pki issue-cps` on `op`.
    fn card(&self, op: &Operator, label: &str, holder: &str) {
        let out = self.root.join(label);
        op.ok(&format!("pki issue-cps {holder} --out {}", out.display()));
        self.ok("softhsm2-util", &["--init-token", "--free", "--label", label, "--so-pin", "87654321", "--pin", PIN]);
        let key = out.join("cps.key");
        self.ok(
            "softhsm2-util",
            &["--import", key.to_str().unwrap(), "--token", label, "--label", "auth", "--id", "01", "--pin", PIN],
        );
        let der = out.join("cps.der");
        self.ok(
            "pkcs11-tool",
            &[
                "--module",
                MODULE,
                "--token-label",
                label,
                "--login",
                "--pin",
                PIN,
                "--write-object",
                der.to_str().unwrap(),
                "--type",
                "cert",
                "--id",
                "01",
                "--label",
                "auth",
            ],
        );
    }

    /// `mss cps login`.
    fn login(&self, label: &str, pin: &str, api: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mss"))
            .args(["cps", "login", "--module", MODULE, "--token", label, "--pin", pin, "--api", api])
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap()
    }
}

#[test]
fn a_pharmacist_logs_in_with_the_cps_card_and_creates_mailboxes() {
    let op = Operator::new("pharmacie.test");
    let hsm = Hsm::new();
    hsm.card(&op, "CPS", "--rpps 10003621892 --first Élodie --last Dupont --finess 750000002");
    let server = op.serve();
    let api = format!("http://{}", server.addr("http"));

    let out = hsm.login("CPS", PIN, &api);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tokens: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let me = http(&server.addr("http"), "GET", "/api/me", Some(token), None).json();
    assert_eq!(me["method"], "cps");
    assert_eq!((me["first_name"].as_str(), me["last_name"].as_str()), (Some("Élodie"), Some("Dupont")));
    assert_eq!(me["national_id"], "810003621892");
    assert_eq!(me["finess"][0], "750000002", "the structure on the card");

    let per = serde_json::json!({"type": "PER", "cgu_version": "2026-01", "cgu_accepted": true});
    let created = http(&server.addr("http"), "POST", "/api/mailboxes", Some(token), Some(&per));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["address"], "elodie.dupont@pharmacie.test");
    let org = serde_json::json!({"type": "ORG", "finess": "750000002", "name": "Pharmacie du Centre", "pharmacy": true,
        "postal_code": "75001", "city": "Paris", "cgu_version": "2026-01", "cgu_accepted": true});
    let created = http(&server.addr("http"), "POST", "/api/mailboxes", Some(token), Some(&org));
    assert_eq!(created.status, 201, "{}", created.body);

    let wrong_pin = hsm.login("CPS", "0000", &api);
    assert_eq!(wrong_pin.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong_pin.stderr).contains("PIN"),
        "{}",
        String::from_utf8_lossy(&wrong_pin.stderr)
    );

    // A card issued by another CA (another operator's CPS CA).
    let stranger = Operator::new("ailleurs.test");
    hsm.card(&stranger, "OTHER", "--rpps 10000013994 --first Bob --last Durand");
    let refused = hsm.login("OTHER", PIN, &api);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("carte CPS reconnue"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(server.stop().0.success());
}
