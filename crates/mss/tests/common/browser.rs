//! A real browser for the end-to-end tests: headless Chromium driven over
//! WebDriver (chromedriver, fantoccini), and the pages as a person sees
//! them (clicks on what is written, waits for what is shown, axe-core).
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`
//! (scripts/test installs them, and fetches axe-core into
//! `target/axe-core`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

use super::free_port;

/// chromedriver on a free port, and one Chromium session through it.
pub struct Browser {
    driver: Child,
    pub client: Client,
    /// The temporary directory of chromedriver and Chromium (profile,
    /// singleton socket), removed with the browser: Chromium leaves its
    /// singleton's directory behind in the machine's /tmp otherwise.
    _tmp: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Self {
        let port = free_port();
        let tmp = tempfile::tempdir().expect("a temporary directory for Chromium");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is needed: apt-get install chromium chromium-driver");
        let url = format!("http://127.0.0.1:{port}");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                         "--window-size=1280,800", "--lang=fr-FR"] }),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) => {
                    assert!(Instant::now() < deadline, "no Chromium session through chromedriver: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Browser { driver, client, _tmp: tmp }
    }

    /// Runs the test's steps; on failure saves a screenshot named `name`
    /// before failing.
    pub async fn run<F>(self, name: &str, steps: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let outcome = tokio::spawn(steps).await;
        if outcome.is_err() {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots");
            let _ = std::fs::create_dir_all(&dir);
            if let Ok(png) = self.client.screenshot().await {
                let path = dir.join(format!("{name}.png"));
                let _ = std::fs::write(&path, png);
                eprintln!("screenshot: {}", path.display());
            }
        }
        let _ = self.client.clone().close().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Runs `attempt` (find an element, act on it) until the element it found
/// is still there when the act reaches it, for 2 s at most. Found on a page
/// being replaced (a key pressed right after one that navigates), it goes
/// stale: no act reached the page then, so it is found again on the new
/// one. Any other error fails the test.
async fn not_stale<Fut>(attempt: impl Fn() -> Fut)
where
    Fut: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
{
    for _ in 0..20 {
        match attempt().await {
            Err(e) if e.is_stale_element_reference() => tokio::time::sleep(Duration::from_millis(100)).await,
            done => return done.unwrap(),
        }
    }
    attempt().await.unwrap();
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The pages as a person sees them: clicks on what is written.
#[derive(Clone)]
pub struct Person {
    pub c: Client,
    pub base: String,
}

impl Person {
    pub async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// The element `locator` finds, waiting for the page (5 s at most).
    pub async fn find(&self, locator: Locator<'_>) -> fantoccini::elements::Element {
        let found = self.c.wait().at_most(Duration::from_secs(5)).for_element(locator).await;
        found.unwrap_or_else(|e| panic!("not found on the page: {e}"))
    }

    pub async fn link(&self, text: &str) {
        self.click("a", text).await;
    }

    pub async fn button(&self, text: &str) {
        self.click("button", text).await;
    }

    /// Clicks the `tag` element whose text contains `text`.
    async fn click(&self, tag: &str, text: &str) {
        let xpath = format!("//{tag}[contains(normalize-space(), \"{text}\")]");
        let xpath = xpath.as_str();
        not_stale(|| async move { self.find(Locator::XPath(xpath)).await.click().await }).await;
    }

    pub async fn fill(&self, id: &str, value: &str) {
        not_stale(|| async move {
            let field = self.find(Locator::Id(id)).await;
            field.clear().await?;
            field.send_keys(value).await
        })
        .await;
    }

    /// The page's visible text (while a page loads, its body may go stale:
    /// asked again).
    pub async fn text(&self) -> String {
        for _ in 0..50 {
            if let Ok(body) = self.c.find(Locator::Css("body")).await
                && let Ok(text) = body.text().await
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no page text on {}", self.path().await);
    }

    /// Waits (5 s at most) until the page shows `expected`.
    pub async fn sees(&self, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.text().await;
            if text.contains(expected) {
                return;
            }
            assert!(Instant::now() < deadline, "{expected:?} not on the page {}:\n{text}", self.path().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Refreshes the page until it shows `expected` (30 s at most): what
    /// another process delivers arrives in its own time.
    pub async fn until(&self, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.text().await.contains(expected) {
            assert!(
                Instant::now() < deadline,
                "{expected:?} never came on {}:\n{}",
                self.path().await,
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.c.refresh().await.unwrap();
        }
    }

    pub async fn path(&self) -> String {
        let url = self.c.current_url().await.unwrap();
        format!("{}{}", url.path(), url.query().map(|q| format!("?{q}")).unwrap_or_default())
    }

    /// Runs axe-core (WCAG 2.1 A and AA rules) on the page: no violation.
    pub async fn accessible(&self) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (scripts/test fetches axe-core)", path.display()));
        self.c.execute(&format!("{axe}\nreturn true;"), vec![]).await.unwrap();
        let run = "const done = arguments[0];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
              .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                  + v.nodes.map(n => n.target.join(' ')).join(', '))))
              .catch(e => done(['axe failed: ' + e]));";
        let found = self.c.execute_async(run, vec![]).await.unwrap();
        let violations: Vec<String> = serde_json::from_value(found).unwrap();
        assert!(violations.is_empty(), "accessibility of {}:\n{}", self.path().await, violations.join("\n"));
    }

    /// The text of the table row that mentions `what`.
    pub async fn row(&self, what: &str) -> String {
        self.sees(what).await;
        let row = self.c.find(Locator::XPath(&format!("//tr[contains(., \"{what}\")]"))).await;
        row.unwrap_or_else(|e| panic!("no row {what:?}: {e}")).text().await.unwrap()
    }

    pub async fn sign_in(&self, name: &str) {
        self.goto("/portail/boites").await;
        let at = self.path().await;
        assert!(at.starts_with("/portail/connexion?suite="), "sign-in first, at {at}");
        self.link("Se connecter avec Pro Santé Connect").await;
        self.sees("Choisissez une identité de test").await;
        self.link(name).await;
        assert_eq!(self.path().await, "/portail/boites");
        self.sees(name).await;
    }

    /// Presses `key` on the focused element.
    pub async fn press(&self, key: Key) {
        let key = key.to_string();
        let key = key.as_str();
        not_stale(|| async move { self.focused().await.send_keys(key).await }).await;
    }

    /// The focused element. Right after a navigation, on a loaded machine,
    /// the browser may report none for a moment: ask again, for 2 s at most.
    pub async fn focused(&self) -> fantoccini::elements::Element {
        for _ in 0..20 {
            if let Ok(element) = self.c.active_element().await {
                return element;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.c.active_element().await.expect("a focused element")
    }

    /// Tabs until the focused element's text contains `text`: what the
    /// keyboard reaches, in order, without a mouse.
    pub async fn tab_to(&self, text: &str) {
        for _ in 0..30 {
            self.press(Key::Tab).await;
            let focused = self.focused().await;
            let label = focused.text().await.unwrap_or_default();
            let value = focused.attr("id").await.ok().flatten().unwrap_or_default();
            if label.contains(text) || value == text {
                return;
            }
        }
        panic!("Tab never reached {text:?} on {}", self.path().await);
    }

    /// Saves what the window shows as `name.png`: in `MSS_SCREENSHOTS`
    /// (`docs/screenshots` refreshes the documentation's), else in
    /// `target/portal-screenshots`.
    pub async fn screenshot(&self, name: &str) {
        let dir = std::env::var_os("MSS_SCREENSHOTS").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots"),
            PathBuf::from,
        );
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Whether the element `css` finds is shown (not `display: none`).
    pub async fn shown(&self, css: &str) -> bool {
        self.find(Locator::Css(css)).await.is_displayed().await.unwrap()
    }

    /// The page fits the window's width (no sideways scrolling).
    pub async fn fits(&self) -> bool {
        let script = "return document.documentElement.scrollWidth <= window.innerWidth;";
        self.c.execute(script, vec![]).await.unwrap() == serde_json::json!(true)
    }
}
