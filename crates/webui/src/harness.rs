//! The browser-test harness every web UI's tests use: a headless Chromium
//! driven over WebDriver by Debian's `chromedriver` (packages `chromium`
//! and `chromium-driver`; nothing is downloaded).
//!
//! A test serves its UI on a loopback port, starts a [`Browser`], and
//! checks what a user would notice: what the page shows after a click or
//! some typing, whether it changed in place, whether a script failed or a
//! resource did not load ([`Browser::assert_no_errors`]). Every wait is a
//! condition polled until a deadline ([`Browser::wait_until`],
//! [`Browser::wait_for_js`], [`Browser::wait_for_text`]), never a fixed
//! sleep, and a timeout says what was awaited and what was last seen.
//!
//! Each `Browser` owns its `chromedriver` and the Chromium it starts (one
//! process group, killed as a whole by [`Browser::quit`] or on drop, also
//! when a test panics) and a throw-away directory (profile, crash database,
//! chromedriver's log). The group's leader is a small shell that also kills
//! the group when the test process dies without unwinding (killed on a
//! timeout), so no browser outlives its test. (Chromium's crash handler
//! leaves the group; it is killed by name on quit and exits by itself
//! when Chromium is gone.)
//!
//! Set `$CHROMEDRIVER` (and `$CHROMIUM`) to use other binaries than
//! Debian's `/usr/bin/chromedriver` and `/usr/bin/chromium`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), webui::harness::HarnessError> {
//! use std::time::Duration;
//! use webui::harness::Browser;
//! let b = Browser::start().await?;
//! b.goto("http://127.0.0.1:8080/ui/agents").await?;
//! b.click(".ui-table thead a").await?;
//! b.wait_for_js("document.querySelector('th[aria-sort=ascending]') !== null", Duration::from_secs(5))
//!     .await?;
//! b.assert_no_errors().await;
//! b.quit().await
//! # }
//! ```

use serde_json::Value;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use thirtyfour::common::capabilities::chromium::ChromiumLikeCapabilities;
use thirtyfour::{By, DesiredCapabilities, WebDriver, WebElement};

/// How long chromedriver may take to answer `/status`.
const DRIVER_READY: Duration = Duration::from_secs(30);
/// How long one WebDriver command may take (opening a session starts
/// Chromium, slow on a loaded two-core machine).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(50);
/// The window every test starts with.
const WINDOW: (u32, u32) = (1280, 900);

/// The group leader (`sh -c LEADER webui-browser chromedriver args..`):
/// runs chromedriver (`"$@"`) in the background and
/// kills the whole process group (itself, chromedriver, Chromium) when
/// chromedriver exits or when its stdin, a pipe held by the test process,
/// reaches end of file (the `Browser` was dropped or the test process
/// died, however abruptly).
const LEADER: &str = r#"exec 3<&0 </dev/null
(read -r line <&3; kill -KILL 0) &
"$@" 3<&- &
wait $!
kill -KILL 0
"#;

/// What went wrong in the harness (not an assertion: those panic).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "chromedriver not found at {0}: install the Debian packages `chromium chromium-driver` \
         (apt-get install chromium chromium-driver) or point $CHROMEDRIVER at one"
    )]
    NoChromedriver(PathBuf),
    #[error("could not start chromedriver: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("chromedriver {0}; its log:\n{1}")]
    Driver(String, String),
    #[error("WebDriver: {0}")]
    WebDriver(#[from] thirtyfour::error::WebDriverError),
    #[error("no element matches `{0}` on {1}")]
    NoElement(String, String),
    #[error("timed out after {timeout:?} waiting for {what} (last seen: {last})")]
    Timeout {
        what: String,
        timeout: Duration,
        last: String,
    },
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// A headless Chromium with its own chromedriver and profile.
pub struct Browser {
    /// `None` once quit.
    driver: Option<WebDriver>,
    /// The process-group leader (see [`LEADER`]); its pid is the group id.
    leader: Child,
    /// Held open: closing it makes the leader kill the group.
    lifeline: Option<ChildStdin>,
    javascript: bool,
    /// chromedriver's output.
    log: PathBuf,
    /// Chromium's profile and crash database, chromedriver's log;
    /// removed after the processes are gone (fields drop after
    /// `Drop::drop`).
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.leader.id())
            .field("javascript", &self.javascript)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (1280x900).
    pub async fn start() -> Result<Browser> {
        Browser::launch(true).await
    }

    /// The same with JavaScript disabled: pages must work as plain links
    /// and forms.
    pub async fn start_without_javascript() -> Result<Browser> {
        Browser::launch(false).await
    }

    async fn launch(javascript: bool) -> Result<Browser> {
        let chromedriver = std::env::var_os("CHROMEDRIVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
        if !chromedriver.is_file() {
            return Err(HarnessError::NoChromedriver(chromedriver));
        }
        let dir = tempfile::Builder::new()
            .prefix("webui-browser-")
            .tempdir()
            .map_err(|e| HarnessError::Io("creating the profile directory".into(), e))?;
        // A port taken between choosing and binding makes chromedriver
        // exit; then another one is tried.
        let mut attempt = 0;
        let (leader, lifeline, url, log) = loop {
            attempt += 1;
            let port = free_port()?;
            let log = dir.path().join(format!("chromedriver-{attempt}.log"));
            let (leader, lifeline) =
                spawn_driver(&chromedriver, port, &log, &dir.path().join("crashes"))?;
            let url = format!("http://127.0.0.1:{port}");
            match wait_ready(&url, leader, &log).await {
                Ok(leader) => break (leader, lifeline, url, log),
                Err(HarnessError::Driver(problem, _))
                    if attempt < 3 && problem.starts_with("exited") => {}
                Err(e) => return Err(e),
            }
        };
        let caps = capabilities(&dir.path().join("profile"), javascript)?;
        // From here on, dropping `browser` (on an error too) kills the
        // processes.
        let mut browser = Browser {
            driver: None,
            leader,
            lifeline: Some(lifeline),
            javascript,
            log,
            dir,
        };
        let driver = WebDriver::builder(url, caps)
            .request_timeout(COMMAND_TIMEOUT)
            .await
            .map_err(|e| {
                HarnessError::Driver(
                    format!("could not open a session: {e}"),
                    read_log(&browser.log),
                )
            })?;
        browser.driver = Some(driver);
        browser.set_window_size(WINDOW.0, WINDOW.1).await?;
        Ok(browser)
    }

    fn driver(&self) -> &WebDriver {
        self.driver.as_ref().expect("the browser was quit")
    }

    /// The WebDriver session, for anything the helpers below do not cover.
    pub fn webdriver(&self) -> &WebDriver {
        self.driver()
    }

    /// The process group of chromedriver and Chromium (its leader's pid).
    pub fn process_group(&self) -> u32 {
        self.leader.id()
    }

    /// The browser's own temporary directory (profile, crash database,
    /// chromedriver's log); every process of this browser names it on its
    /// command line (see [`processes_naming`]).
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether pages run scripts in this browser.
    pub fn javascript(&self) -> bool {
        self.javascript
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        Ok(self.driver().goto(url).await?)
    }

    /// Reloads the current page (a full load).
    pub async fn reload(&self) -> Result<()> {
        Ok(self.driver().refresh().await?)
    }

    /// Goes back in the history.
    pub async fn back(&self) -> Result<()> {
        Ok(self.driver().back().await?)
    }

    /// Goes forward in the history.
    pub async fn forward(&self) -> Result<()> {
        Ok(self.driver().forward().await?)
    }

    /// The address bar.
    pub async fn current_url(&self) -> Result<String> {
        Ok(self.driver().current_url().await?.to_string())
    }

    async fn find(&self, css: &str) -> Result<WebElement> {
        match self
            .driver()
            .find_all(By::Css(css))
            .await?
            .into_iter()
            .next()
        {
            Some(e) => Ok(e),
            None => Err(HarnessError::NoElement(
                css.to_string(),
                self.current_url().await.unwrap_or_default(),
            )),
        }
    }

    /// What a user sees of the first element matching `css`: its
    /// `innerText` (as styled, e.g. upper-cased), empty if it is not
    /// rendered.
    pub async fn text(&self, css: &str) -> Result<String> {
        match self.texts(css).await?.into_iter().next() {
            Some(t) => Ok(t),
            None => Err(HarnessError::NoElement(
                css.to_string(),
                self.current_url().await.unwrap_or_default(),
            )),
        }
    }

    /// [`Browser::text`] of every element matching `css`, read in one
    /// round trip.
    pub async fn texts(&self, css: &str) -> Result<Vec<String>> {
        let v = self
            .driver()
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0]), function (e) {\
                   return e.checkVisibility() ? e.innerText.trim() : '';\
                 });",
                vec![Value::String(css.to_string())],
            )
            .await?;
        Ok(v.convert::<Vec<String>>()?)
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> Result<usize> {
        Ok(self.driver().find_all(By::Css(css)).await?.len())
    }

    /// An attribute of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        Ok(self.find(css).await?.attr(name).await?)
    }

    /// Clicks the first element matching `css`, first scrolled to the
    /// middle of the window as a user would (WebDriver alone scrolls it to
    /// an edge, where a sticky bar may cover it).
    pub async fn click(&self, css: &str) -> Result<()> {
        let e = self.find(css).await?;
        self.driver()
            .execute(
                "arguments[0].scrollIntoView({block: 'center', inline: 'center'});",
                vec![e.to_json()?],
            )
            .await?;
        Ok(e.click().await?)
    }

    /// Types `text` into the first field matching `css` (after what is
    /// already there).
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        Ok(self.find(css).await?.send_keys(text).await?)
    }

    /// Empties the first field matching `css`.
    pub async fn clear(&self, css: &str) -> Result<()> {
        Ok(self.find(css).await?.clear().await?)
    }

    /// Runs a script body in the page (`return` gives the value, as JSON).
    /// Works in a browser without JavaScript too: WebDriver scripts are not
    /// page scripts.
    pub async fn exec(&self, js: &str) -> Result<Value> {
        Ok(self
            .driver()
            .execute(js, Vec::<Value>::new())
            .await?
            .json()
            .clone())
    }

    /// Polls `check` until it returns `true` or `timeout` passes; then fails
    /// saying what was awaited. A `check` that fails (e.g. an element not
    /// there yet, or a page being replaced) counts as "not yet".
    pub async fn wait_until<F>(&self, what: &str, timeout: Duration, mut check: F) -> Result<()>
    where
        F: AsyncFnMut(&Browser) -> Result<bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match check(self).await {
                Ok(true) => return Ok(()),
                Ok(false) => "false".to_string(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout {
                    what: what.to_string(),
                    timeout,
                    last,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls a JavaScript expression until it is truthy.
    pub async fn wait_for_js(&self, expr: &str, timeout: Duration) -> Result<()> {
        let script = format!("return !!({expr});");
        self.wait_until(&format!("`{expr}`"), timeout, async |b| {
            Ok(b.exec(&script).await? == Value::Bool(true))
        })
        .await
    }

    /// Polls until the first element matching `css` shows `expected`; a
    /// timeout reports the text last seen.
    pub async fn wait_for_text(&self, css: &str, expected: &str, timeout: Duration) -> Result<()> {
        let mut seen = String::from("nothing");
        let r = self
            .wait_until(
                &format!("`{css}` to show {expected:?}"),
                timeout,
                async |b| {
                    let text = b.text(css).await?;
                    let ok = text == expected;
                    seen = text;
                    Ok(ok)
                },
            )
            .await;
        r.map_err(|e| match e {
            HarnessError::Timeout { what, timeout, .. } => HarnessError::Timeout {
                what,
                timeout,
                last: format!("{seen:?}"),
            },
            e => e,
        })
    }

    /// Everything that went wrong on the current page: the script errors
    /// and failed loads `ui.js` keeps in `window.__uiErrors` (the variable
    /// missing means the page script did not run, itself an error), and
    /// every resource fetched with an HTTP error status (which also covers
    /// a browser without JavaScript, and loads that failed before the page
    /// script started).
    pub async fn errors(&self) -> Result<Vec<String>> {
        let v = self
            .exec(
                r#"var errs = Array.isArray(window.__uiErrors) ? window.__uiErrors.map(String) : null;
var failed = performance.getEntriesByType("resource")
  .filter(function (e) { return e.responseStatus >= 400; })
  .map(function (e) { return "failed to load " + e.name + " (HTTP " + e.responseStatus + ")"; });
return { errors: errs, failed: failed };"#,
            )
            .await?;
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| s.as_str().unwrap_or("?").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        match (&v["errors"], self.javascript) {
            (Value::Null, true) => out.push(
                "window.__uiErrors is missing: the page script (ui.js) did not load or run".into(),
            ),
            (Value::Null, false) => {}
            (errs, true) => out.extend(strings(errs)),
            (_, false) => out.push("a page script ran in a browser without JavaScript".into()),
        }
        for f in strings(&v["failed"]) {
            // ui.js records an element that failed to load by its URL
            // alone; keep one line per failure.
            let known = out.iter().any(|e| {
                f.strip_prefix(e.as_str())
                    .is_some_and(|rest| rest.starts_with(" (HTTP "))
            });
            if !known {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// Panics (naming the page) if [`Browser::errors`] finds anything.
    pub async fn assert_no_errors(&self) {
        let url = self.current_url().await.unwrap_or_default();
        match self.errors().await {
            Ok(errors) if errors.is_empty() => {}
            Ok(errors) => panic!("errors on {url}:\n  {}", errors.join("\n  ")),
            Err(e) => panic!("could not read the errors of {url}: {e}"),
        }
    }

    /// Saves a PNG of the viewport, creating the parent directories.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| HarnessError::Io(format!("creating {}", parent.display()), e))?;
        }
        let png = self.driver().screenshot_as_png().await?;
        std::fs::write(path, png)
            .map_err(|e| HarnessError::Io(format!("writing {}", path.display()), e))
    }

    /// Resizes the window (outer size).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        Ok(self.driver().set_window_rect(0, 0, width, height).await?)
    }

    /// Ends the session, then the processes. Dropping a `Browser` also
    /// ends them, without asking Chromium first.
    pub async fn quit(mut self) -> Result<()> {
        let quit = match self.driver.take() {
            Some(d) => match tokio::time::timeout(Duration::from_secs(10), d.quit()).await {
                Ok(r) => r.map_err(HarnessError::from),
                // Drop kills everything anyway.
                Err(_) => Ok(()),
            },
            None => Ok(()),
        };
        self.kill();
        quit
    }

    /// Kills the process group and reaps its leader.
    fn kill(&mut self) {
        let Ok(pid) = i32::try_from(self.leader.id()) else {
            return;
        };
        // The leader is not reaped before this, so its pid (the group id)
        // cannot have been reused.
        if matches!(self.leader.try_wait(), Ok(None)) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        } else {
            // The leader is gone: its last act was killing the group.
        }
        self.lifeline.take();
        let _ = self.leader.wait();
        // Chromium's crash handler leaves the group (it double-forks into
        // a session of its own); it is known by the database it was given.
        for pid in processes_naming(self.dir.path()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            // No DELETE /session: the processes are killed right after.
            let _ = driver.leak();
        }
        self.kill();
    }
}

fn read_log(log: &Path) -> String {
    let mut text = String::new();
    let _ = std::fs::File::open(log).and_then(|mut f| f.read_to_string(&mut text));
    text
}

/// Chromium's options: headless, quiet, its own profile.
fn capabilities(profile: &Path, javascript: bool) -> Result<thirtyfour::ChromeCapabilities> {
    let mut caps = DesiredCapabilities::chrome();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        &format!("--user-data-dir={}", profile.display()),
    ] {
        caps.add_arg(arg)?;
    }
    if let Some(binary) = std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| {
        let debian = PathBuf::from("/usr/bin/chromium");
        debian.is_file().then_some(debian)
    }) {
        caps.set_binary(&binary.to_string_lossy())?;
    }
    if !javascript {
        caps.add_experimental_option(
            "prefs",
            serde_json::json!({ "profile.managed_default_content_settings.javascript": 2 }),
        )?;
    }
    Ok(caps)
}

/// The processes whose command line names something inside the
/// directory `path` (from /proc).
pub fn processes_naming(path: &Path) -> Vec<i32> {
    let mut needle = path.as_os_str().as_encoded_bytes().to_vec();
    needle.push(b'/');
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.windows(needle.len()).any(|w| w == needle.as_slice()))
        })
        .collect()
}

/// A loopback port nothing listens on (right now).
fn free_port() -> Result<u16> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| HarnessError::Io("choosing a port".into(), e))
}

fn spawn_driver(
    chromedriver: &Path,
    port: u16,
    log: &Path,
    crashes: &Path,
) -> Result<(Child, ChildStdin)> {
    let out = std::fs::File::create(log)
        .map_err(|e| HarnessError::Io(format!("creating {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| HarnessError::Io(format!("opening {}", log.display()), e))?;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(LEADER)
        .arg("webui-browser")
        .arg(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        // Chromium's crash handler keeps its database here rather than in
        // ~/.config. (It cannot be turned off: Chromium 156's network
        // service crashes under --disable-crashpad-for-testing.)
        .env("BREAKPAD_DUMP_LOCATION", crashes)
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(HarnessError::Spawn)?;
    let lifeline = child.stdin.take().expect("piped stdin");
    Ok((child, lifeline))
}

/// Polls chromedriver's `/status` until it says ready; gives the leader
/// back, or kills it.
async fn wait_ready(url: &str, mut leader: Child, log: &Path) -> Result<Child> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .map_err(|e| HarnessError::Driver(format!("status client: {e}"), String::new()))?;
    let deadline = Instant::now() + DRIVER_READY;
    let status = format!("{url}/status");
    loop {
        if let Ok(r) = client.get(&status).send().await
            && let Ok(v) = r.json::<Value>().await
            && v["value"]["ready"] == Value::Bool(true)
        {
            return Ok(leader);
        }
        let problem = if let Ok(Some(code)) = leader.try_wait() {
            Some(format!("exited ({code}) before it was ready"))
        } else if Instant::now() >= deadline {
            Some(format!("was not ready at {status} within {DRIVER_READY:?}"))
        } else {
            None
        };
        if let Some(problem) = problem {
            if let Ok(pid) = i32::try_from(leader.id())
                && matches!(leader.try_wait(), Ok(None))
            {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = leader.wait();
            return Err(HarnessError::Driver(problem, read_log(log)));
        }
        tokio::time::sleep(POLL).await;
    }
}
