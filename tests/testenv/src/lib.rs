//! What a test needs from its environment, and what happens when it is missing.
//!
//! Some tests need a PostgreSQL server ([`POSTGRES_URL`]) or the shared corpus of real bank
//! files ([`CORPUS`]). They ask for it with [`var`]:
//!
//! - when the variable is set (and not empty), they get its value;
//! - in CI (the variable `CI` is set, and is neither empty, `0` nor `false`), a missing
//!   variable **fails the test** with a message naming it;
//! - locally, the test is skipped and the skip is **counted**: one line is written to
//!   [`skipped_file`] (`target/wagegate-skipped-tests.txt`) and one line to the terminal
//!   (past `cargo test`'s output capture), with the count so far in this run.
//!
//! `tests/scripts/test` (and `.ci/run`) print the final count after `cargo test`; see the
//! README's "Tests that need PostgreSQL or the corpus".

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// A PostgreSQL server where tests may create and drop databases.
pub const POSTGRES_URL: &str = "WAGEGATE_TEST_POSTGRES_URL";
/// The shared corpus of real bank files (a folder).
pub const CORPUS: &str = "WAGEGATE_CORPUS";
/// The name of the file, in the target folder, that lists the skipped tests of the last run.
pub const SKIPPED_FILE_NAME: &str = "wagegate-skipped-tests.txt";

/// The value of `name` for the calling test, or `None` when the test should skip itself
/// (locally; the skip is recorded). Panics in CI when the variable is missing.
#[track_caller]
pub fn var(name: &str) -> Option<String> {
    var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// [`var`] for a path or other value that need not be UTF-8.
#[track_caller]
pub fn var_os(name: &str) -> Option<OsString> {
    let value = std::env::var_os(name).filter(|v| !v.is_empty());
    // Every call (skip or not) starts a new list when this is a new run, so that a run with
    // everything set leaves no stale list behind.
    let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    log.start_run();
    if value.is_some() {
        return value;
    }
    let test = test_name();
    if in_ci() {
        panic!(
            "{test} needs {name}, which is not set, and CI is set ({:?}): in CI a test that \
             cannot run fails instead of passing silently. Set {name} (see the README, \
             \"Tests that need PostgreSQL or the corpus\"), or unset CI to run locally with \
             this test skipped.",
            std::env::var("CI").unwrap_or_default()
        );
    }
    let count = log.record(&test, name);
    // Straight to the terminal: `cargo test` captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "wagegate: SKIPPED {test} ({name} not set; {count} skipped so far in this run, listed in {})",
        log.path.display()
    );
    None
}

/// For a test that needs something other than a variable (e.g. root, to mount a small
/// filesystem): `true` when `available`; otherwise the skip is counted like a missing
/// variable's (and in CI the test fails), `what` saying what was missing.
#[track_caller]
pub fn require(available: bool, what: &str) -> bool {
    let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    log.start_run();
    if available {
        return true;
    }
    let test = test_name();
    if in_ci() {
        panic!("{test} needs {what}, which is not available, and CI is set: in CI a test that cannot run fails");
    }
    let count = log.record_reason(&test, &format!("{what} not available"));
    let _ = writeln!(
        std::io::stderr(),
        "wagegate: SKIPPED {test} ({what} not available; {count} skipped so far in this run, listed in {})",
        log.path.display()
    );
    false
}

/// Whether the tests run in CI: `CI` is set to something other than empty, `0` or `false`.
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => {
            let v = v.trim().to_ascii_lowercase();
            !(v.is_empty() || v == "0" || v == "false")
        }
        Err(_) => false,
    }
}

/// Where skipped tests are listed: [`SKIPPED_FILE_NAME`] in the target folder of the running
/// test binary (`target/debug/deps/NAME-HASH` → `target/`).
pub fn skipped_file() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    target.join(SKIPPED_FILE_NAME)
}

/// The calling test: the test binary and the name libtest gave the test's thread.
fn test_name() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `conformance-0123456789abcdef` → `conformance`.
    let binary = match stem.rsplit_once('-') {
        Some((name, hash)) if hash.bytes().all(|b| b.is_ascii_hexdigit()) => name.to_string(),
        _ => stem,
    };
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    format!("{binary}::{test}")
}

/// The skip list of this process, behind a lock: tests run on many threads.
struct Log {
    path: PathBuf,
    /// Whether this process has made sure the file belongs to the current run.
    started: bool,
}

static LOG: Mutex<Log> = Mutex::new(Log {
    path: PathBuf::new(),
    started: false,
});

/// One `cargo test` (or nextest) run: the process that started the test binaries. Every
/// binary of one run has the same parent; the next run has another.
fn run_id() -> String {
    #[cfg(unix)]
    {
        std::os::unix::process::parent_id().to_string()
    }
    #[cfg(not(unix))]
    {
        String::from("0")
    }
}

impl Log {
    /// Empties the file when it lists another run's skips (the first column is the run).
    fn start_run(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        self.path = skipped_file();
        let run = run_id();
        let current = std::fs::read_to_string(&self.path)
            .map(|text| {
                text.lines()
                    .next()
                    .is_none_or(|l| l.split('\t').next() == Some(run.as_str()))
            })
            .unwrap_or(false);
        if !current {
            // The header line names the run even when nothing is skipped.
            let _ = std::fs::write(&self.path, format!("{run}\t# run\n"));
        }
    }

    /// Appends a skip and returns how many this run has so far.
    fn record(&mut self, test: &str, var: &str) -> usize {
        self.record_reason(test, &format!("{var} not set"))
    }

    fn record_reason(&mut self, test: &str, reason: &str) -> usize {
        let line = format!("{}\t{test}\t{reason}\n", run_id());
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = f.write_all(line.as_bytes());
        }
        count_in(&std::fs::read_to_string(&self.path).unwrap_or_default())
    }
}

/// The number of skipped tests listed in the text of a skip file.
pub fn count_in(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.ends_with("\t# run"))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_skip_lines_are_counted() {
        let text = "42\t# run\n42\tconformance::postgres::a\tWAGEGATE_TEST_POSTGRES_URL not set\n\
                    42\tcorpus::b\tWAGEGATE_CORPUS not set\n";
        assert_eq!(count_in(text), 2);
        assert_eq!(count_in("42\t# run\n"), 0);
        assert_eq!(count_in(""), 0);
    }
}
