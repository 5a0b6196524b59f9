//! `wagegate report`: a project's reconciliation workbook.
//! `wagegate evidence`: build a signed evidence pack of one project's findings for a month
//! (`--project P --period YYYY-MM --out FILE`), or check one (`evidence verify FILE`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use console::evidence::{self, SigningKey};
use console::Lang;
use ingest::config::Settings;
use schemas::{msg, LocalizedError, Msg, WithMsg};

fn signing_key(settings: &Settings, lang: Lang) -> anyhow::Result<SigningKey> {
    let Some(key) = settings.evidence.signing_key.as_deref() else {
        bail!(
            "{}",
            lang.pick(
                "未配置证据包签名密钥：请在配置文件的 [evidence] 中设置 signing_key（至少 32 字节），或设置环境变量 WAGEGATE__EVIDENCE__SIGNING_KEY",
                "no evidence signing key: set signing_key under [evidence] in the configuration (at least 32 bytes), or WAGEGATE__EVIDENCE__SIGNING_KEY"
            )
        );
    };
    SigningKey::new(key)
}

pub async fn build(
    config: Option<&Path>,
    lang_flag: Option<&str>,
    project: &str,
    period: &str,
    out: &Path,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let lang = crate::findings_cli::language(lang_flag, &settings)?;
    evidence::check_period(period).map_err(|e| {
        LocalizedError::new(schemas::Msg::new(
            format!("--period 的取值 '{period}' 无效：应为 YYYY-MM 形式的月份，如 2026-09"),
            format!("--period: {e}"),
        ))
    })?;
    let key = signing_key(&settings, lang)?;
    let p = crate::findings_cli::open_existing(settings).await?;
    let pack = evidence::build(
        p.store().as_ref(),
        project,
        period,
        &key,
        lang,
        actor,
        chrono::Utc::now(),
    )
    .await?;
    let shown = out.display();
    std::fs::write(out, &pack.bytes).with_msg(|| msg!("无法写入 {shown}", "writing {shown}"))?;
    let raw = pack
        .manifest
        .files
        .iter()
        .filter(|f| f.source.is_some())
        .count();
    match lang {
        Lang::Zh => println!(
            "已生成证据包 {}：项目 {} {}，{}，预警 {} 条，原始文件 {} 个，共 {} 个文件（清单已签名）",
            out.display(),
            pack.manifest.project,
            pack.manifest.project_name,
            pack.manifest.period,
            pack.manifest.findings.len(),
            raw,
            pack.manifest.files.len()
        ),
        Lang::En => println!(
            "wrote the evidence pack {}: project {} {}, {}, {} findings, {} raw files, {} files in all (manifest signed)",
            out.display(),
            pack.manifest.project,
            pack.manifest.project_name,
            pack.manifest.period,
            pack.manifest.findings.len(),
            raw,
            pack.manifest.files.len()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(
    config: Option<&Path>,
    lang_flag: Option<&str>,
    file: &Path,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let lang = crate::findings_cli::language(lang_flag, &settings)?;
    let key = signing_key(&settings, lang)?;
    let shown = file.display();
    let meta = std::fs::metadata(file).with_msg(|| Msg::reading(file))?;
    if meta.len() > evidence::MAX_PACK_BYTES + 64 * 1024 * 1024 {
        return Err(LocalizedError::new(msg!(
            "{shown} 比任何证据包都大，不是证据包",
            "{shown} is larger than any evidence pack"
        ))
        .into());
    }
    let bytes = std::fs::read(file).with_msg(|| Msg::reading(file))?;
    match evidence::verify(&bytes, &key) {
        Ok(v) => {
            let m = &v.manifest;
            match lang {
                Lang::Zh => println!(
                    "校验通过：{}（项目 {} {}，{}，预警 {} 条，{} 个文件的 SHA-256 均与签名清单一致；生成于 {}，生成人 {}）",
                    file.display(),
                    m.project,
                    m.project_name,
                    m.period,
                    m.findings.len(),
                    m.files.len(),
                    console::i18n::cst_seconds(m.generated_at),
                    m.generated_by
                ),
                Lang::En => println!(
                    "verified: {} (project {} {}, {}, {} findings, all {} files match the signed manifest; generated {} CST by {})",
                    file.display(),
                    m.project,
                    m.project_name,
                    m.period,
                    m.findings.len(),
                    m.files.len(),
                    console::i18n::cst_seconds(m.generated_at),
                    m.generated_by
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            eprintln!(
                "{}{}：{}",
                lang.pick("校验失败：", "verification failed: "),
                file.display(),
                problem.describe(lang)
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

pub async fn report(
    config: Option<&Path>,
    lang_flag: Option<&str>,
    project: &str,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let lang = crate::findings_cli::language(lang_flag, &settings)?;
    let p = crate::findings_cli::open_existing(settings).await?;
    let (bytes, _) =
        console::reconciliation::project_xlsx(p.store().as_ref(), project, lang).await?;
    let shown = out.display();
    std::fs::write(out, bytes).with_msg(|| msg!("无法写入 {shown}", "writing {shown}"))?;
    match lang {
        Lang::Zh => println!("已生成项目 {project} 的对账表 {}", out.display()),
        Lang::En => println!(
            "wrote the reconciliation workbook of project {project} to {}",
            out.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
