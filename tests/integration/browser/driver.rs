//! A real browser for the status page tests: Debian's `chromium`, headless, driven over
//! WebDriver by `chromedriver` on a free loopback port (one driver per test process, one
//! browser session per test, at most one session at a time so the tests stay light on a small
//! machine). Missing binaries are a failure naming the setup script, never a silent skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a condition on the page may take to hold.
const PATIENCE: Duration = Duration::from_secs(20);

/// The first of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// `chromium` and `chromedriver`, or a panic saying how to install them.
fn binaries() -> (PathBuf, PathBuf) {
    let chromium = on_path(&["chromium", "chromium-browser"]);
    let driver = on_path(&["chromedriver"]);
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => (chromium, driver),
        (chromium, driver) => {
            panic!(
            "the status page tests need a real browser: chromium {} and chromedriver {} on PATH \
             (Debian packages `chromium` and `chromium-driver`; run scripts/browser-setup.sh, \
             which CI runs)",
            if chromium.is_some() { "found" } else { "MISSING" },
            if driver.is_some() { "found" } else { "MISSING" },
        )
        }
    }
}

/// A running chromedriver.
struct Driver {
    url: String,
    chromium: PathBuf,
    _child: Child,
}

impl Driver {
    fn start() -> Driver {
        let (chromium, driver) = binaries();
        let port = ops_tests::emulator::free_port();
        // As for the emulator: the wrapper kills chromedriver when our end of its stdin closes,
        // so no driver outlives the test process.
        let script = r#"port="$1"; driver="$2"; "$driver" --port="$port" --allowed-ips=127.0.0.1 >/dev/null 2>&1 & pid=$!; trap 'kill $pid 2>/dev/null' EXIT; cat >/dev/null"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("chromedriver-wrapper")
            .arg(port.to_string())
            .arg(&driver)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", driver.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} did not listen on port {port} within 30 s",
                driver.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            url: format!("http://127.0.0.1:{port}"),
            chromium,
            _child: child,
        }
    }

    fn shared() -> &'static Driver {
        static SHARED: OnceLock<Driver> = OnceLock::new();
        SHARED.get_or_init(Driver::start)
    }
}

/// One browser session (headless chromium) and where its screenshots go.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _turn: SemaphorePermit<'static>,
}

impl Browser {
    /// A new headless session with a 1400×2400 window (tall, so one screenshot shows the page).
    pub async fn open() -> Browser {
        static TURN: Semaphore = Semaphore::const_new(1);
        let turn = TURN.acquire().await.expect("semaphore never closes");
        let driver = Driver::shared();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": driver.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,2400", "--no-first-run", "--no-default-browser-check",
                    "--disable-extensions", "--disable-background-networking", "--lang=en-US",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|error| {
                panic!("chromedriver at {} gave no session: {error}", driver.url)
            });
        Browser {
            client,
            _turn: turn,
        }
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("open {url}: {error}"));
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}\n{script}"))
    }

    /// Waits until `script` returns `true`; panics with `what` and a screenshot when it never does.
    pub async fn until(&self, what: &str, script: &str) {
        let started = Instant::now();
        loop {
            if self.js(script, vec![]).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > PATIENCE {
                let shot = self.screenshot(&format!("timeout-{}", slug(what))).await;
                let text = self.text("body").await;
                panic!(
                    "waited {PATIENCE:?} for {what}; screenshot {}; page text:\n{text}",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the page's next completed render (`body[data-renders]` grows past `after`).
    pub async fn rendered_after(&self, after: u64) -> u64 {
        let script = format!(
            "return document.body.dataset.state === 'ready' && Number(document.body.dataset.renders || 0) > {after};"
        );
        self.until("the page to render", &script).await;
        self.renders().await
    }

    /// How many times the page has rendered the dashboard.
    pub async fn renders(&self) -> u64 {
        self.js("return Number(document.body.dataset.renders || 0);", vec![])
            .await
            .as_u64()
            .unwrap_or(0)
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("find {css}: {error}"))
            .len()
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(error) => panic!("no element {css}: {error}"),
        }
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no element {css}: {error}"));
        element
            .click()
            .await
            .unwrap_or_else(|error| panic!("click {css}: {error}"));
    }

    /// Types `text` into the first element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no element {css}: {error}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("type into {css}: {error}"));
    }

    /// Signs in on the page's form with `credential` and waits for the first render.
    pub async fn sign_in(&self, credential: &str) -> u64 {
        self.until(
            "the sign-in form",
            "return !document.getElementById('signin').hidden;",
        )
        .await;
        let label = self.text("label[for=credential]").await;
        assert_eq!(label, "API key or token");
        self.type_into("#credential", credential).await;
        self.click("#signin-submit").await;
        self.rendered_after(0).await
    }

    /// Saves a PNG of the window under `.cache/browser/NAME.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = ops_tests::workspace_root().join(".cache/browser");
        std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        match self.client.screenshot().await {
            Ok(png) => save(&path, &png),
            Err(error) => eprintln!("screenshot {name} failed: {error}"),
        }
        path
    }

    /// Ends the session (closes chromium).
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

fn save(path: &Path, png: &[u8]) {
    std::fs::write(path, png).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
