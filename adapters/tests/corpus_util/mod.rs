//! Shared by the corpus tests: where the corpus is, and which files are inputs.

use std::path::{Path, PathBuf};

/// `$WAGEGATE_CORPUS` (a path relative to the workspace root, or absolute). Unset: the
/// caller skips, counted by `testenv` (in CI: a test failure). Set to a folder that does not
/// exist: a test failure.
pub fn corpus() -> Option<PathBuf> {
    let raw = testenv::var_os(testenv::CORPUS)?;
    let p = PathBuf::from(&raw);
    let p = if p.is_absolute() {
        p
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
    };
    assert!(
        p.is_dir(),
        "WAGEGATE_CORPUS={} is not a folder ({})",
        raw.to_string_lossy(),
        p.display()
    );
    Some(p)
}

/// Every file under `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Sample inputs (not expected outputs, schemas or licences).
pub fn is_input(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let ext = p
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .unwrap_or_default();
    !matches!(ext.as_str(), "json" | "yml" | "yaml" | "md" | "xsd")
        && !name.to_uppercase().contains("LICENSE")
}

pub fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}
