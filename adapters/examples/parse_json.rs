//! A stand-in for `wagegate parse --json FILE` while the CLI is built elsewhere: reads
//! FILE, detects and parses it, prints the record set as pretty JSON. Exit 1 with the
//! error on stderr when the file is refused; exit 2 on bad usage.
//!
//! `cargo run -p adapters --example parse_json -- parse --json FILE [--format F]`

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut file = None;
    let mut forced = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "parse" | "--json" => {}
            "--format" => match it.next().map(|f| f.parse::<adapters::Format>()) {
                Some(Ok(f)) => forced = Some(f),
                Some(Err(e)) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
                None => {
                    eprintln!("--format needs a value");
                    return ExitCode::from(2);
                }
            },
            other => file = Some(other.to_string()),
        }
    }
    let Some(file) = file else {
        eprintln!("usage: parse_json parse --json FILE [--format F]");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(1);
        }
    };
    match adapters::parse(&bytes, forced, &adapters::ParseContext::default()) {
        Ok(set) => match serde_json::to_string_pretty(&set) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{file}: cannot write JSON: {e}");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("{file}: {e}");
            ExitCode::from(1)
        }
    }
}
