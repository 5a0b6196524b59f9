//! Diagnostics of one file, bounded: a file with millions of odd lines yields the first
//! [`MAX_DIAGNOSTICS`] and one line counting the rest (the ISO 20022 and SWIFT readers).

use schemas::{msg, Diagnostic, Level, Msg, Position};

/// Diagnostics kept per file; the rest are counted in one closing line.
pub(crate) const MAX_DIAGNOSTICS: usize = 500;

/// A file's diagnostics: the first [`MAX_DIAGNOSTICS`] kept, the rest counted.
#[derive(Default)]
pub(crate) struct Diags {
    list: Vec<Diagnostic>,
    dropped: usize,
    dropped_errors: usize,
}

impl Diags {
    pub(crate) fn push(&mut self, level: Level, position: Position, message: Msg) {
        if self.list.len() < MAX_DIAGNOSTICS {
            self.list.push(Diagnostic::new(level, position, message));
        } else {
            self.dropped += 1;
            if level == Level::Error {
                self.dropped_errors += 1;
            }
        }
    }

    /// The kept diagnostics, and one closing line counting the rest (an error when an
    /// error was among them).
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        if self.dropped > 0 {
            // Errors among the dropped keep the file refused.
            let (level, errors) = if self.dropped_errors > 0 {
                (
                    Level::Error,
                    msg!(
                        "，其中 {} 条是错误",
                        ", {} of them errors",
                        self.dropped_errors
                    ),
                )
            } else {
                (Level::Warning, Msg::default())
            };
            let dropped = self.dropped;
            self.list.push(Diagnostic::new(
                level,
                Position::default(),
                Msg::new(
                    format!("另有 {dropped} 条诊断信息未保留{}", errors.zh),
                    format!("{dropped} further diagnostics were not kept{}", errors.en),
                ),
            ));
        }
        self.list
    }
}
