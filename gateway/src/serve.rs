//! `wagegate serve` and `wagegate certs dev`: the configuration loaded, logging started, the
//! gateway daemon run until a signal; on SIGHUP the configuration is read again the same way
//! (file, environment, `--dev-pki`, `--listen`) and its partners, tokens and certificates
//! applied.

use std::path::Path;

use ingest::config::Settings;
use server::daemon::{apply_dev_pki, serve_with_reload};

/// `wagegate serve [--dev-pki DIR] [--listen ADDR]`: loads the configuration, applies the
/// development PKI and listen address if given, starts logging and serves until a signal.
pub async fn serve_command(
    config: Option<&Path>,
    dev_pki: Option<&Path>,
    listen: Option<&str>,
) -> anyhow::Result<()> {
    let settings = load(config, dev_pki, listen)?;
    init_logging(&settings);
    if settings
        .findings
        .id_key
        .as_deref()
        .is_none_or(str::is_empty)
    {
        tracing::warn!("finding ids are plain hashes of their subjects (a worker's ID number among them): set [findings] id_key (docs/findings.md, \"Finding ids\")");
    }
    let (config, dev_pki, listen) = (
        config.map(Path::to_path_buf),
        dev_pki.map(Path::to_path_buf),
        listen.map(str::to_string),
    );
    let reload = Box::new(move || load(config.as_deref(), dev_pki.as_deref(), listen.as_deref()));
    serve_with_reload(settings, reload).await
}

/// The configuration as `serve` uses it: file and environment, then the command line.
fn load(
    config: Option<&Path>,
    dev_pki: Option<&Path>,
    listen: Option<&str>,
) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(config)?;
    if let Some(dir) = dev_pki {
        apply_dev_pki(&mut settings, dir)?;
    }
    if let Some(listen) = listen {
        settings.server.listen = listen.to_string();
        settings.validate()?;
    }
    Ok(settings)
}

/// `wagegate certs dev --out DIR`: writes the development PKI and says how to use it.
pub fn certs_dev_command(out: &Path, ui: console::Lang) -> anyhow::Result<()> {
    let pki = server::pki::write_dev_pki(out)?;
    let (dir, partners) = (out.display(), out.join("partners.toml"));
    let partners = partners.display();
    match ui {
        console::Lang::Zh => {
            println!("已在 {dir} 生成开发用证书（CA、服务器证书和演示合作方证书）")
        }
        console::Lang::En => println!("wrote a development PKI to {dir}"),
    }
    for (id, fingerprint) in &pki.fingerprints {
        println!("  {id:<14} sha256 {fingerprint}");
    }
    match ui {
        console::Lang::Zh => println!(
            "合作方配置：{partners}（粘贴到配置文件中，或运行 `wagegate serve --dev-pki {dir}`）"
        ),
        console::Lang::En => println!(
            "partners: {partners} (paste into a configuration file, or run `wagegate serve --dev-pki {dir}`)"
        ),
    }
    Ok(())
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: a log file or journal must not get escape codes.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    // A subscriber may already be installed (tests, embedding): keep it.
    let _ = if settings.log.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
