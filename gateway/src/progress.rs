//! The progress of `wagegate load` and `wagegate ingest`, in the operator's language: a bar
//! on a terminal, and on anything else (a log file, a pipe, CI) one line every
//! [`LINE_EVERY`] and at the end of each step, so that a long backfill still says how far
//! it is without filling the log with bar redraws.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use console::i18n::Lang;
use indicatif::{ProgressBar, ProgressStyle};
use ingest::backfill::{Progress, Step};

/// How often a line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

pub struct Display {
    lang: Lang,
    /// A bar is drawn (stderr is a terminal).
    tty: bool,
    /// Leave out the lines of files that went in (`wagegate load --quiet`).
    quiet: bool,
    state: Mutex<State>,
}

struct State {
    step: Option<Step>,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
    bar: Option<ProgressBar>,
}

impl Display {
    pub fn new(lang: Lang) -> Display {
        Display::with_terminal(lang, std::io::stderr().is_terminal())
    }

    /// The same display, telling only the files that failed and the totals when `quiet`.
    pub fn quiet(self, quiet: bool) -> Display {
        Display { quiet, ..self }
    }

    fn with_terminal(lang: Lang, tty: bool) -> Display {
        Display {
            lang,
            tty,
            quiet: false,
            state: Mutex::new(State {
                step: None,
                total: 0,
                done: 0,
                started: Instant::now(),
                last_line: Instant::now(),
                bar: None,
            }),
        }
    }

    fn step_name(&self, step: Step) -> &'static str {
        match step {
            Step::Registry => self.lang.pick("登记数据", "registry"),
            Step::BankFiles => self.lang.pick("银行文件", "bank files"),
        }
    }

    /// `银行文件：1,200/27,993（4%），已用 35 秒，每秒 34 个，预计还需 13 分 20 秒`.
    fn line_of(&self, state: &State) -> String {
        let name = state.step.map_or("", |s| self.step_name(s));
        let elapsed = state.started.elapsed();
        let pct = (state.done * 100).checked_div(state.total).unwrap_or(100);
        let rate = state.done as f64 / elapsed.as_secs_f64().max(0.001);
        let left = if state.done == 0 || state.done >= state.total {
            None
        } else {
            Some(Duration::from_secs_f64(
                (state.total - state.done) as f64 / rate.max(f64::MIN_POSITIVE),
            ))
        };
        let rate = rate.round() as u64;
        match self.lang {
            Lang::Zh => {
                let mut l = format!(
                    "{name}：{}/{}（{pct}%），已用 {}，每秒 {rate} 个",
                    state.done,
                    state.total,
                    duration_zh(elapsed)
                );
                if let Some(left) = left {
                    l.push_str(&format!("，预计还需 {}", duration_zh(left)));
                }
                l
            }
            Lang::En => {
                let mut l = format!(
                    "{name}: {}/{} ({pct}%), {} elapsed, {rate} a second",
                    state.done,
                    state.total,
                    duration_en(elapsed)
                );
                if let Some(left) = left {
                    l.push_str(&format!(", about {} left", duration_en(left)));
                }
                l
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Progress for Display {
    fn lang(&self) -> Lang {
        self.lang
    }

    fn begin(&self, step: Step, total: u64) {
        let mut s = self.lock();
        s.step = Some(step);
        s.total = total;
        s.done = 0;
        s.started = Instant::now();
        s.last_line = Instant::now();
        if self.tty && total > 1 {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} ({percent}%) {elapsed_precise} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(self.step_name(step));
            s.bar = Some(bar);
        }
    }

    fn advance(&self, n: u64) {
        let mut s = self.lock();
        s.done += n;
        if let Some(bar) = &s.bar {
            bar.inc(n);
        } else if !self.tty && s.last_line.elapsed() >= LINE_EVERY {
            s.last_line = Instant::now();
            eprintln!("{}", self.line_of(&s));
        }
    }

    fn end(&self) {
        let mut s = self.lock();
        if let Some(bar) = s.bar.take() {
            bar.finish_and_clear();
        }
        if s.step.is_some() && s.total > 1 {
            eprintln!("{}", self.line_of(&s));
        }
        s.step = None;
    }

    fn file_line(&self, text: &str, error: bool) {
        if !self.quiet || error {
            self.line(text, error);
        }
    }

    fn line(&self, text: &str, error: bool) {
        let s = self.lock();
        let print = || {
            if error {
                eprintln!("{text}");
            } else {
                println!("{text}");
            }
        };
        match &s.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }
}

fn duration_zh(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec} 秒"),
        (0, m, sec) => format!("{m} 分 {sec} 秒"),
        (h, m, _) => format!("{h} 小时 {m} 分"),
    }
}

fn duration_en(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec} s"),
        (0, m, sec) => format!("{m} min {sec} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_how_far_in_the_operators_language() {
        let zh = Display::with_terminal(Lang::Zh, false);
        zh.begin(Step::BankFiles, 200);
        zh.advance(50);
        let line = zh.line_of(&zh.lock());
        assert!(line.starts_with("银行文件：50/200（25%），已用 "), "{line}");
        assert!(line.contains("预计还需"), "{line}");
        let en = Display::with_terminal(Lang::En, false);
        en.begin(Step::Registry, 4);
        en.advance(4);
        let line = en.line_of(&en.lock());
        assert!(line.starts_with("registry: 4/4 (100%), "), "{line}");
        assert!(!line.contains("left"), "{line}");
        assert!(en.lock().bar.is_none(), "no bar without a terminal");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_zh(Duration::from_secs(42)), "42 秒");
        assert_eq!(duration_zh(Duration::from_secs(200)), "3 分 20 秒");
        assert_eq!(duration_en(Duration::from_secs(7325)), "2 h 2 min");
    }
}
