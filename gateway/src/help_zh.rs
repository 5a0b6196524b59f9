//! `wagegate --help` in Simplified Chinese (the default language; `--lang en` keeps clap's
//! English, written as the doc comments of `main.rs`). The texts are keyed by command path
//! and argument id, not by the English sentence, and a test checks both ways: every command
//! and argument has a Chinese text, and every text here still names a command or argument.

use clap::{Arg, ArgAction, Command};

/// (command path, argument id or "" for the command itself, Chinese help).
const ZH: &[(&str, &str, &str)] = &[
    ("", "", "建筑工程农民工工资监管的银行对接网关与对账守护进程"),
    ("", "config", "配置文件（TOML）。先取默认值，再取此文件，最后取 WAGEGATE__节__键 环境变量"),
    ("", "lang", "面向人员输出的语言：zh（简体中文，默认）或 en。默认取配置中的 ui.lang"),
    ("", "database", "数据库（sqlite://路径 或 postgres://用户@主机/库），优先于配置中的 database.url 和 WAGEGATE__DATABASE__URL"),
    ("demo", "", "在内置默认数据库上端到端运行主流程：导入演示数据，经生产流水线入库、核对，并打印预警"),
    ("demo", "dir", "演示数据库与文件的存放目录"),
    ("import", "", "导入登记文件（项目、专用账户、人工费用拨付计划、工资支付表、花名册、保函要求），CSV 或 JSON；任何一行有误则整个文件被拒绝"),
    ("import", "files", "登记文件"),
    ("ingest", "", "按合作方报送的原样入库银行或保险机构的文件：保存原始文件、解析、按报送方授权校验"),
    ("ingest", "partner", "报送合作方的编号（须在 [[partners]] 中配置；操作员回填用 operator）"),
    ("ingest", "format", "强制指定格式，不自动识别"),
    ("ingest", "files", "要入库的文件"),
    ("parse", "", "解析文件并打印其标准化记录；不访问数据库"),
    ("parse", "file", "要解析的文件"),
    ("parse", "json", "以 JSON 输出"),
    ("parse", "format", "强制指定格式，不自动识别（camt.053、mt940、icbc 等）"),
    ("parse", "platform_secret_file", "存放合作方密钥的文件，用于验证 SM3 签名的平台推送"),
    ("parse", "tolerate", "把已知的违规当作警告接受，与为合作方配置的相同（mt940-no-closing-balance、mt940-no-opening-balance）；可重复"),
    ("reconcile", "", "按某一日期核对全部项目（或指定项目）并更新预警"),
    ("reconcile", "as_of", "核对基准日，默认今天（北京时间）"),
    ("reconcile", "project", "只核对此项目（可重复）"),
    ("reconcile", "incremental", "只核对自上次以来数据有变化的项目（守护进程的做法）"),
    ("reconcile", "force", "计算范围内的每个项目，包括事实、规则和日期都与上次核对相同、本可跳过的项目"),
    ("findings", "", "列出预警（红色在前），附项目和总承包单位名称，时间为北京时间"),
    ("findings", "format", "输出格式：table、json、csv（带 BOM 的 UTF-8，Excel 可直接打开，表头随语言）或 xlsx（需 --out）"),
    ("findings", "project", "只列此项目的预警"),
    ("findings", "code", "预警代码，如 WAGES_UNPAID"),
    ("findings", "status", "open、acknowledged、resolved、dismissed，或 active（open 与 acknowledged）"),
    ("findings", "severity", "red、orange 或 yellow"),
    ("findings", "active", "只列未关闭（open 和 acknowledged）的预警"),
    ("findings", "limit", "最多列出这么多条"),
    ("findings", "out", "写入此文件而不是标准输出（xlsx 必需）"),
    ("explain", "", "打印一条预警的法律依据、证据和计算过程，以及其中每笔代发归属的月份和所依据的规则"),
    ("explain", "id", "预警编号（F-…）"),
    ("finding", "", "确认、驳回（须附理由）或解决一条预警"),
    ("finding", "id", "预警编号（F-…）"),
    ("finding", "action", "acknowledge（确认）、dismiss（驳回）或 resolve（解决）"),
    ("finding", "reason", "理由，记入处理记录（驳回时必填）"),
    ("finding", "actor", "操作人，记入处理记录（默认 cli:$USER）"),
    ("evidence", "", "生成某项目某月预警的签名证据包（ZIP）：相关原始银行文件、预警 XLSX、每条预警的说明、索引和签名的 SHA-256 清单。`evidence verify 文件` 校验证据包"),
    ("evidence", "project", "项目编号"),
    ("evidence", "period", "月份，YYYY-MM"),
    ("evidence", "out", "要写入的 ZIP 文件"),
    ("evidence", "actor", "生成人，写入证据包（默认 cli:$USER）"),
    ("evidence verify", "", "校验证据包：清单签名、每个文件的 SHA-256 和大小、没有增删。校验不通过时退出码为 1"),
    ("evidence verify", "file", "证据包文件"),
    ("report", "", "生成项目对账工作簿（XLSX）：登记信息、预警、人工费用拨付计划、专用账户流水、工资支付表、代发结果、保函"),
    ("report", "project", "项目编号"),
    ("report", "out", "要写入的 .xlsx 文件"),
    ("load", "", "加载一个混有登记文件和银行文件的目录（回填），自动识别每个文件的类型"),
    ("load", "dir", "要加载的目录"),
    ("load", "partner", "银行文件记录的报送方（默认为操作员回填 operator）"),
    ("load", "quiet", "只打印被拒绝、被退回或跳过的文件和汇总，不逐个打印已入库的文件（一个省的回填有数万个文件）"),
    ("load", "backfill", "加载期间暂停所有网关的核对（避免早到文件开出、晚到文件又解决的预警推送洪流），结束后统一核对一次"),
    ("simulate", "", "生成一个带随机种子的模拟省份：真实输入格式，植入每种预警代码的问题，以 expected-findings.json 为标准答案（docs/simulate.md）"),
    ("simulate", "projects", "项目数"),
    ("simulate", "seed", "随机种子（相同参数生成逐字节相同的文件）"),
    ("simulate", "as_of", "该模拟世界预定的核对基准日"),
    ("simulate", "out", "输出目录"),
    ("simulate", "workers", "每个项目的工人数，范围 MIN-MAX（或一个数）"),
    ("simulate", "projects_per_file", "每个登记文件和银行文件包含的项目数"),
    ("simulate", "plant_percent", "在覆盖每种代码所需的项目之外，另外植入问题的项目所占百分比"),
    ("replay", "", "由已保存的原始文件和登记信息重建一个新数据库（临时 SQLite 文件），按给定日期核对，并与现有预警比较（编号、代码、项目、期间、金额、等级；操作员处理除外）。打印每处差异，有差异时退出码非零"),
    ("replay", "as_of", "现有预警最近一次核对的基准日"),
    ("replay", "into", "把重建的数据库保留在此路径（新的 SQLite 文件），而不是临时文件"),
    ("replay", "demo", "现有数据库是演示数据库（wagegate demo --dir 目录）：内置合作方按演示的方式配置，数据库为 目录/wagegate.db，除非 WAGEGATE__DATABASE__URL 另有指定"),
    ("retry", "", "重新解析被拒绝的文件（例如登记信息修正之后）：每个文件回到待处理状态并重新经过流水线。仍有文件被拒绝时退出码非零"),
    ("retry", "file_ids", "文件编号（FILE-…，见 wagegate files）"),
    ("files", "", "列出已保存的入站文件（最新在前），含状态、格式、诊断和错误（retry 所用的编号），并按发送方和格式计数"),
    ("files", "partner", "只列此发送方的文件（合作方编号或 operator）"),
    ("files", "status", "received | parsed | rejected（或 已接收待解析 | 已解析 | 已拒收）"),
    ("files", "since", "只列此日（北京时间）及以后收到的文件，YYYY-MM-DD"),
    ("files", "limit", "最多列出这么多个文件（计数覆盖全部选中的文件）"),
    ("files", "format", "输出格式：table、json 或 csv"),
    ("migrate", "", "创建或升级数据库结构"),
    ("serve", "", "运行网关守护进程：双向 TLS API、入库、核对、Webhook 推送、收件目录"),
    ("serve", "dev_pki", "使用 wagegate certs dev 生成的开发用 PKI（及其演示合作方）"),
    ("serve", "listen", "监听地址，如 127.0.0.1:8443（覆盖 server.listen）"),
    ("certs", "", "证书"),
    ("certs dev", "", "生成开发用 CA、localhost 服务器证书和演示客户端证书"),
    ("certs dev", "out", "输出目录"),
    ("token", "", "操作员访问令牌（供没有客户端证书的操作员使用）"),
    ("token create", "", "为操作员创建访问令牌：只显示一次，只保存其 SHA-256"),
    ("token create", "name", "操作员名称，记为用该令牌所做一切操作的操作人"),
    ("token list", "", "列出已保存的令牌：操作员名称、SHA-256 前缀、创建时间（从不显示令牌本身）；配置文件中的令牌（[[operators]]）也一并列出"),
    ("token revoke", "", "吊销操作员已保存的令牌（全部，或 SHA-256 以 --sha256 开头的那一个）。所有运行中的实例立即拒绝，无需重启或 SIGHUP"),
    ("token revoke", "name", "操作员名称"),
    ("token revoke", "sha256", "令牌 SHA-256 的开头部分，与 token list 所示相同"),
    ("webhooks", "", "Webhook 发件箱：列出事件，重新投递死信事件"),
    ("webhooks list", "", "列出发件箱事件，最早的在前（待发送和死信；加 --all 含已投递）"),
    ("webhooks list", "dead", "只列死信事件"),
    ("webhooks list", "all", "也列已投递的事件"),
    ("webhooks list", "limit", "最多列出这么多个事件"),
    ("webhooks redrive", "", "把死信事件放回队列，重新开始重试周期"),
    ("webhooks redrive", "ids", "事件编号（见 wagegate webhooks list --dead）"),
    ("webhooks redrive", "all_dead", "全部死信事件"),
];

fn zh(path: &str, arg: &str) -> Option<&'static str> {
    ZH.iter()
        .find(|(p, a, _)| *p == path && *a == arg)
        .map(|(_, _, t)| *t)
}

/// The command tree with every about and help text in Chinese, Chinese headings, and
/// `-h/--help` and `-V/--version` described in Chinese.
pub fn localise(cmd: Command) -> Command {
    localise_at(cmd, "")
}

fn localise_at(mut cmd: Command, path: &str) -> Command {
    if let Some(about) = zh(path, "") {
        cmd = cmd.about(about).long_about(None::<&str>);
    }
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        if let Some(help) = zh(path, &id) {
            cmd = cmd.mut_arg(id, |a| a.help(help).long_help(None::<&str>));
        }
    }
    cmd = cmd
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("显示帮助"),
        );
    if path.is_empty() {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("显示版本"),
        );
    }
    let has_commands = cmd.get_subcommands().next().is_some();
    let has_positionals = cmd.get_positionals().next().is_some();
    let mut template = String::from("{before-help}{about-with-newline}\n用法：{usage}\n");
    if has_commands {
        template.push_str("\n命令：\n{subcommands}\n");
    }
    if has_positionals {
        template.push_str("\n参数：\n{positionals}\n");
    }
    template.push_str("\n选项：\n{options}{after-help}");
    cmd = cmd.help_template(template);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        let sub = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(name, |c| localise_at(c, &sub));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn cjk(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// Every (path, arg) of the English command tree, "" for the command itself.
    fn every_text(cmd: &Command, path: &str, out: &mut Vec<(String, String)>) {
        out.push((path.to_string(), String::new()));
        for a in cmd.get_arguments() {
            if !a.is_hide_set() && !a.is_global_set() || path.is_empty() {
                out.push((path.to_string(), a.get_id().to_string()));
            }
        }
        for c in cmd.get_subcommands() {
            let sub = if path.is_empty() {
                c.get_name().to_string()
            } else {
                format!("{path} {}", c.get_name())
            };
            every_text(c, &sub, out);
        }
    }

    #[test]
    fn every_command_and_argument_has_a_chinese_help_and_every_text_is_used() {
        let mut all = Vec::new();
        every_text(&crate::Cli::command(), "", &mut all);
        let missing: Vec<&(String, String)> = all
            .iter()
            .filter(|(p, a)| a != "help" && a != "version" && zh(p, a).is_none_or(|t| !cjk(t)))
            .collect();
        assert!(missing.is_empty(), "no Chinese help for {missing:?}");
        let unused: Vec<_> = ZH
            .iter()
            .filter(|(p, a, _)| !all.iter().any(|(q, b)| q == p && b == a))
            .collect();
        assert!(unused.is_empty(), "texts for nothing: {unused:?}");
    }

    #[test]
    fn the_chinese_help_renders_with_chinese_headings_and_no_english_sentences() {
        let mut cmd = localise(crate::Cli::command());
        let top = cmd.render_long_help().to_string();
        for said in ["用法：", "命令：", "选项：", "显示帮助", "显示版本", "核对"]
        {
            assert!(top.contains(said), "{said} missing:\n{top}");
        }
        for english in [
            "Usage:",
            "Options:",
            "Commands:",
            "Print help",
            "Reconcile every",
        ] {
            assert!(!top.contains(english), "{english} left:\n{top}");
        }
        let mut cmd = localise(crate::Cli::command());
        let reconcile = cmd
            .find_subcommand_mut("reconcile")
            .expect("reconcile")
            .render_long_help()
            .to_string();
        assert!(reconcile.contains("核对基准日"), "{reconcile}");
        assert!(!reconcile.contains("Defaults to today"), "{reconcile}");
        let mut cmd = localise(crate::Cli::command());
        let list = cmd
            .find_subcommand_mut("token")
            .and_then(|t| t.find_subcommand_mut("list"))
            .expect("token list")
            .render_long_help()
            .to_string();
        assert!(list.contains("列出已保存的令牌"), "{list}");
    }
}
