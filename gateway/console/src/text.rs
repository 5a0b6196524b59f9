//! The console's own words (navigation, headings, buttons), Chinese and English.

use std::collections::BTreeMap;

use crate::Lang;

const TEXT: &[(&str, &str, &str)] = &[
    ("app", "农民工工资监管预警控制台", "Wage supervision console"),
    ("nav", "主导航", "Main navigation"),
    ("project_page", "项目", "Project"),
    ("construction_unit", "建设单位", "Construction unit"),
    ("contract_amount", "合同金额", "Contract amount"),
    ("accounts_balance", "工资专用账户及余额", "Wage accounts and balances"),
    ("account", "账号", "Account"),
    ("last_balance", "最近余额", "Latest balance"),
    ("obligations_credits", "人工费用拨付义务与到账", "Labor-cost obligations and credits"),
    ("obligation", "义务编号", "Obligation"),
    ("counterparty", "付款方", "From"),
    ("remittance", "附言", "Remittance"),
    ("pay_coverage", "工资支付表与代发情况", "Pay sheets and payments"),
    ("lines", "人数", "Lines"),
    ("net_total", "实发合计", "Net total"),
    ("batch", "批次", "Batch"),
    ("paid", "成功", "Paid"),
    ("failed_pending", "失败或未决", "Failed or pending"),
    ("unpaid_workers", "未足额发放的工人（已脱敏）", "Workers not (fully) paid (masked)"),
    ("finding", "预警", "Finding"),
    ("guarantees", "工资保证金（保函）", "Wage guarantees (letters)"),
    ("number", "编号", "Number"),
    ("cover_timeline", "保证金覆盖时间轴（实际保证金与应缴金额）", "Guarantee cover against the requirement over time"),
    ("required_guarantee", "应缴工资保证金", "Required guarantee"),
    ("cover_span", "保证期间", "Cover required"),
    ("cover_from_date", "自该日起", "From"),
    ("cover_held", "实际保证金（有效保函+现金）", "Cover held (letters in force + cash)"),
    ("cover_short", "是否足额", "Sufficient?"),
    ("cover_ok", "足额", "Sufficient"),
    ("cover_not_ok", "不足", "Short"),
    ("no_requirement", "该项目没有工资保证金要求，或保证期间尚未开始。", "This project has no guarantee requirement, or its cover has not started yet."),
    ("issuer", "出具机构", "Issuer"),
    ("valid", "有效期", "Valid"),
    ("project_xlsx", "下载项目对账表（XLSX）", "Project reconciliation (XLSX)"),
    ("people", "涉及人员（个人信息已脱敏）", "People concerned (personal data masked)"),
    ("people_full", "涉及人员（完整个人信息）", "People concerned (in full)"),
    ("source", "来源", "Source"),
    ("worker_name", "姓名", "Name"),
    ("id_number", "身份证号", "ID number"),
    ("card_number", "银行卡号", "Card number"),
    ("reveal", "显示完整个人信息（将记入审计日志）", "Show in full (written to the audit log)"),
    ("revealed", "已显示完整个人信息，本次查看已记入审计日志。", "Shown in full; this view was written to the audit log."),
    (
        "reveal_refused",
        "您没有查看完整个人信息的权限（ui.personal_data_viewers）。",
        "You are not allowed to see personal data in full (ui.personal_data_viewers).",
    ),
    ("reveals", "个人信息查看记录", "Who saw personal data in full"),
    ("evidence_pack", "电子证据包", "Evidence packs"),
    (
        "evidence_help",
        "按项目和月份导出电子证据包（ZIP）：预警背后的银行原始文件、预警清单（XLSX）、每条预警的说明与法律依据、中文索引，以及由服务器签名的 SHA-256 清单。可用 wagegate evidence verify 校验。",
        "Export an evidence pack (ZIP) for a project and month: the raw bank files behind the findings, the findings (XLSX), each finding's explanation and legal basis, an index, and a SHA-256 manifest signed by the server. Check it with wagegate evidence verify.",
    ),
    ("download_pack", "下载证据包", "Download the evidence pack"),
    ("pack_for_finding", "下载该项目本月的证据包", "Evidence pack of this project and month"),
    (
        "no_signing_key",
        "未配置证据包签名密钥（evidence.signing_key），无法生成证据包。请联系系统管理员。",
        "No signing key for evidence packs is configured (evidence.signing_key); ask the administrator.",
    ),
    ("month", "月份", "Month"),
    ("overview", "总览", "Overview"),
    ("findings", "预警列表", "Findings"),
    ("files", "报送文件记录", "Partner file log"),
    ("signed_in_as", "当前用户", "Signed in as"),
    ("other_lang", "English", "简体中文"),
    ("logout", "退出登录", "Sign out"),
    ("login", "登录", "Sign in"),
    ("login_title", "操作员登录", "Operator sign-in"),
    ("token", "操作员令牌", "Operator token"),
    (
        "login_help",
        "也可使用操作员证书直接访问，无需登录。",
        "Operators with an operator certificate are let in without signing in.",
    ),
    ("tz_note", "所有时间均为北京时间（UTC+8）；金额单位：人民币元。", "All times are China Standard Time (UTC+8); amounts in CNY."),
    ("active_findings", "未处理预警（待处理+已确认）", "Active findings (open + acknowledged)"),
    ("money_at_risk", "涉及金额", "Money at risk"),
    ("by_severity", "按预警等级", "By severity"),
    ("by_region", "按地区", "By region"),
    ("by_code", "按预警类型", "By type"),
    ("trend", "近30天每日新增与解决", "Opened and resolved per day, last 30 days"),
    ("opened", "新增", "Opened"),
    ("resolved", "解决", "Resolved"),
    ("risky_projects", "风险最高的项目", "Projects at highest risk"),
    ("partner_problems", "报送异常的合作机构（文件被拒收或逾期未报送）", "Partners with rejected or late files"),
    ("no_partner_problems", "暂无报送异常。", "No rejected or late files."),
    ("problem", "问题", "Problem"),
    ("last_file", "最近一次报送", "Last file"),
    ("worst", "最高等级", "Worst"),
    ("count", "数量", "Count"),
    ("search", "搜索", "Search"),
    ("all", "全部", "All"),
    ("id", "预警编号", "Finding id"),
    ("code", "预警类型", "Type"),
    ("severity", "预警等级", "Severity"),
    ("status", "状态", "Status"),
    ("region", "地区", "Region"),
    ("bank", "银行代码", "Bank code"),
    ("partner", "合作机构", "Partner"),
    ("project", "项目", "Project"),
    ("contractor", "施工总承包单位", "General contractor"),
    ("period", "所属期间", "Period"),
    ("amount", "涉及金额", "Amount"),
    ("summary", "摘要", "Summary"),
    ("detail", "详情", "Details"),
    ("first_seen", "发现时间", "First seen"),
    ("updated", "更新时间", "Updated"),
    ("due", "截止日期", "Due date"),
    ("basis", "法律依据", "Legal basis"),
    ("sort", "排序", "Sort by"),
    ("order", "顺序", "Order"),
    ("asc", "升序", "Ascending"),
    ("desc", "降序", "Descending"),
    ("per_page", "每页条数", "Per page"),
    ("filter", "筛选", "Filter"),
    ("total", "共计", "Total"),
    ("download_xlsx", "导出 Excel（XLSX）", "Download XLSX"),
    ("pages", "分页", "Pages"),
    ("page", "第", "Page"),
    ("prev", "上一页", "Previous"),
    ("next", "下一页", "Next"),
    ("evidence", "证据", "Evidence"),
    ("kind", "类别", "Kind"),
    ("description", "说明", "Description"),
    ("date", "日期", "Date"),
    ("key", "记录键", "Record key"),
    ("arithmetic", "计算过程", "Arithmetic"),
    ("actions", "处理", "Actions"),
    ("acknowledge", "确认预警", "Acknowledge"),
    ("dismiss", "驳回预警", "Dismiss"),
    ("dismiss_reason", "驳回理由（必填）", "Reason for dismissal (required)"),
    ("history", "处理记录", "History"),
    ("time", "时间", "Time"),
    ("event", "事件", "Event"),
    ("actor", "操作人", "By"),
    ("reason", "说明", "Reason"),
    ("received", "接收时间", "Received"),
    ("file_name", "文件名", "File name"),
    ("format", "格式", "Format"),
    ("records", "记录数", "Records"),
    ("error_col", "错误", "Error"),
    ("file_id", "文件编号", "File id"),
    ("forbidden", "无权访问", "Forbidden"),
    (
        "forbidden_partner",
        "合作机构（银行、保险机构）证书不能访问操作员控制台。",
        "A partner (bank, insurer) certificate may not use the operator console.",
    ),
    ("forbidden_unknown", "该证书未登记给任何操作员。", "This certificate is registered to nobody."),
    ("bad_token", "令牌无效，请重试。", "The token is not valid; try again."),
    (
        "login_throttled",
        "无效令牌尝试过多，请 {seconds} 秒后再试。",
        "Too many invalid tokens; try again in {seconds} s.",
    ),
    (
        "csrf_refused",
        "表单已过期或来源不明（CSRF 校验失败），操作未执行。请返回页面重试。",
        "The form is stale or came from elsewhere (CSRF check failed); nothing was done. Go back and try again.",
    ),
    ("not_found", "未找到", "Not found"),
    ("bad_request", "请求有误", "Bad request"),
    ("acknowledged_ok", "已确认该预警。", "The finding was acknowledged."),
    ("dismissed_ok", "已驳回该预警。", "The finding was dismissed."),
    ("reason_required", "驳回预警必须填写理由。", "A dismissal needs a reason."),
    ("late", "逾期未报送", "Late: no file"),
    ("rejected_files", "文件被拒收", "Files rejected"),
    ("never", "从未报送", "Never"),
];

/// All words for one language, for templates (`t.KEY`).
pub fn all(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    TEXT.iter()
        .map(|(k, zh, en)| (*k, lang.pick(zh, en)))
        .collect()
}

/// One word.
pub fn get(key: &str, lang: Lang) -> &'static str {
    TEXT.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| lang.pick(zh, en))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_exists_in_both_languages_once() {
        let mut keys = std::collections::HashSet::new();
        for (k, zh, en) in TEXT {
            assert!(keys.insert(k), "{k} twice");
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
        }
        assert_eq!(get("overview", Lang::Zh), "总览");
        assert_eq!(get("overview", Lang::En), "Overview");
    }
}
