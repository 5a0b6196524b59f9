//! An independent world, written from `DOMAIN.md` §4 and the user documentation alone
//! (`docs/findings.md`, `docs/registry.md`, `docs/parse-json.md`, `docs/profiles.md`,
//! `docs/guarantee-letters.md`, `docs/calendar.md`) — not from the reconciler, the simulator
//! or the adapters. Every defective project carries exactly one planted finding (code, amount
//! to the fen, severity, period); near misses sit just inside a rule and must stay clean; clean
//! projects vary everything else. Files are what operators and banks send: registry CSV (with
//! Chinese or English headers, provinces in every documented spelling), camt.053.001.02 daily
//! statements, core-payroll result files, guarantee-letter JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// The date the world is reconciled as of.
pub fn as_of() -> NaiveDate {
    d(2026, 11, 20)
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// SplitMix64: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.range(0, xs.len() as i64 - 1) as usize]
    }
    pub fn chance(&mut self, percent: i64) -> bool {
        self.range(1, 100) <= percent
    }
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.range(0, i as i64) as usize;
            xs.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------- calendar (docs/calendar.md)

const HOLIDAYS_2026: &[&str] = &[
    "2026-01-01",
    "2026-01-02",
    "2026-01-03",
    "2026-02-15",
    "2026-02-16",
    "2026-02-17",
    "2026-02-18",
    "2026-02-19",
    "2026-02-20",
    "2026-02-21",
    "2026-02-22",
    "2026-02-23",
    "2026-04-04",
    "2026-04-05",
    "2026-04-06",
    "2026-05-01",
    "2026-05-02",
    "2026-05-03",
    "2026-05-04",
    "2026-05-05",
    "2026-06-19",
    "2026-06-20",
    "2026-06-21",
    "2026-09-25",
    "2026-09-26",
    "2026-09-27",
    "2026-10-01",
    "2026-10-02",
    "2026-10-03",
    "2026-10-04",
    "2026-10-05",
    "2026-10-06",
    "2026-10-07",
];
const WORKDAYS_2026: &[&str] = &[
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-20",
    "2026-10-10",
];

pub fn is_working(day: NaiveDate) -> bool {
    let s = day.format("%Y-%m-%d").to_string();
    if WORKDAYS_2026.contains(&s.as_str()) {
        return true;
    }
    if HOLIDAYS_2026.contains(&s.as_str()) {
        return false;
    }
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

fn next_working(mut day: NaiveDate) -> NaiveDate {
    while !is_working(day) {
        day += Duration::days(1);
    }
    day
}

fn add_working_days(mut day: NaiveDate, n: u32) -> NaiveDate {
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        if is_working(day) {
            left -= 1;
        }
    }
    day
}

fn month_end(y: i32, m: u32) -> NaiveDate {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    d(ny, nm, 1) - Duration::days(1)
}

/// Wages of month `(y, m)` are due by the end of the next month (docs/findings.md).
fn wage_deadline(y: i32, m: u32) -> NaiveDate {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    month_end(ny, nm)
}

/// Graded severity (docs/findings.md "Severity"): red from 1,000,000.00 short, else by days.
pub fn graded(days_overdue: i64, amount: i64) -> &'static str {
    if amount >= 100_000_000 || days_overdue > 60 {
        "red"
    } else if days_overdue > 30 {
        "orange"
    } else {
        "yellow"
    }
}

// ---------------------------------------------------------------- identities

/// Money as operators write it (docs/registry.md "Money"): `1234.5`, `1234.50`, `1,234.50`.
fn money_text(rng: &mut Rng, fen: i64) -> String {
    let plain = yuan(fen);
    match rng.range(0, 2) {
        0 => plain,
        1 if fen % 10 == 0 => plain
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        _ => {
            let (int, frac) = plain.split_once('.').expect("point");
            let mut grouped = String::new();
            for (i, c) in int.chars().enumerate() {
                if i > 0 && (int.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            format!("{grouped}.{frac}")
        }
    }
}

/// Dates as operators write them (docs/registry.md "Dates").
fn date_text(rng: &mut Rng, day: NaiveDate) -> String {
    match rng.range(0, 3) {
        0 => day.format("%Y-%m-%d").to_string(),
        1 => day.format("%Y/%m/%d").to_string(),
        2 => day.format("%Y%m%d").to_string(),
        _ => format!("{}年{}月{}日", day.year(), day.month(), day.day()),
    }
}

pub fn yuan(fen: i64) -> String {
    assert!(fen >= 0, "negative amount {fen}");
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A unified social credit code with its GB 32100-2015 check character.
pub fn uscc(rng: &mut Rng) -> String {
    const CH: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let mut s = String::from("913501");
    for _ in 0..11 {
        s.push(char::from(b'0' + rng.range(0, 9) as u8));
    }
    let sum: u32 = s
        .bytes()
        .zip(W)
        .map(|(b, w)| CH.iter().position(|&c| c == b).expect("char") as u32 * w)
        .sum();
    let c = (31 - sum % 31) % 31;
    s.push(char::from(CH[c as usize]));
    s
}

/// A resident ID number with its ISO 7064 MOD 11-2 check character.
fn id_number(rng: &mut Rng) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let region = rng.pick(&["350102", "520102", "440304", "430104", "110105", "150102"]);
    let birth = d(1965, 1, 1) + Duration::days(rng.range(0, 12_000));
    let mut s = format!("{region}{}{:03}", birth.format("%Y%m%d"), rng.range(1, 999));
    let sum: u32 = s.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    s.push(char::from(b"10X98765432"[(sum % 11) as usize]));
    s
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.range(0, 9) as u8))
        .collect()
}

fn person_name(rng: &mut Rng) -> String {
    let s = rng.pick(&[
        "张", "王", "李", "赵", "陈", "杨", "吴", "黄", "周", "徐", "孙", "马",
    ]);
    let g1 = rng.pick(&["建", "国", "德", "永", "春", "志", "海", "文", "明", "秀"]);
    let g2 = rng.pick(&["军", "华", "平", "强", "林", "兰", "勇", "杰", "芳", "斌"]);
    format!("{s}{g1}{g2}")
}

// ---------------------------------------------------------------- provinces (docs/registry.md)

/// (spelling written in the file, stored key, guarantee rate num/den, cap in fen)
struct Province {
    spelling: &'static str,
    rate: (i64, i64),
    cap: Option<i64>,
}

const SPELLINGS: &[(&str, &str)] = &[
    ("福建省", "fujian"),
    ("福建", "fujian"),
    ("350000", "fujian"),
    ("35", "fujian"),
    ("Fujian", "fujian"),
    ("FU JIAN", "fujian"),
    ("贵州省", "guizhou"),
    ("贵州", "guizhou"),
    ("520000", "guizhou"),
    ("guizhou", "guizhou"),
    ("深圳市", "shenzhen"),
    ("深圳", "shenzhen"),
    ("440300", "shenzhen"),
    ("Shenzhen", "shenzhen"),
    ("广东省", "guangdong"),
    ("广东", "guangdong"),
    ("44", "guangdong"),
    ("湖南省", "hunan"),
    ("hunan", "hunan"),
    ("广西壮族自治区", "guangxi"),
    ("广西", "guangxi"),
    ("内蒙古自治区", "neimenggu"),
    ("Inner Mongolia", "neimenggu"),
    ("北京市", "beijing"),
    ("北京", "beijing"),
    ("云南省", "yunnan"),
    ("Fu-Jian", "fujian"),
    ("广西自治区", "guangxi"),
    ("内蒙古", "neimenggu"),
    ("西藏", "xizang"),
    ("Tibet", "xizang"),
    ("新疆维吾尔自治区", "xinjiang"),
    ("香港特区", "xianggang"),
    ("Macao", "aomen"),
    ("Guangdong", "guangdong"),
    ("GUIZHOU", "guizhou"),
];

fn province(rng: &mut Rng, chinese_only: bool) -> Province {
    loop {
        let (spelling, key) = *rng.pick(SPELLINGS);
        if chinese_only && spelling.is_ascii() {
            continue;
        }
        let (rate, cap) = match key {
            "fujian" => ((15, 1000), Some(500_000_000)),
            "guizhou" => ((2, 100), Some(1_000_000_000)),
            "shenzhen" => ((3, 100), Some(300_000_000)),
            _ => ((1, 100), None),
        };
        return Province {
            spelling,
            rate,
            cap,
        };
    }
}

fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

// ---------------------------------------------------------------- the world's records

#[derive(Clone)]
struct Worker {
    name: String,
    id: String,
    card: String,
}

/// One movement on the dedicated account.
#[derive(Clone)]
struct Ev {
    date: NaiveDate,
    credit: bool,
    amount: i64,
    bank_ref: String,
    batch_ref: Option<String>,
    cp_name: Option<String>,
    cp_acct: Option<String>,
    text: Option<String>,
    reversal: bool,
}

/// One line of a core-payroll result file.
#[derive(Clone)]
struct Line {
    worker: Worker,
    amount: i64,
    /// `0` paid, `1` failed.
    status: &'static str,
    /// Write the ID number (else only the card: the result belongs to the worker by card).
    with_id: bool,
}

struct Batch {
    id: String,
    pay_date: NaiveDate,
    lines: Vec<Line>,
}

#[derive(Clone)]
struct Letter {
    number: String,
    action: &'static str,
    status: &'static str,
    previous: Option<String>,
    amount: i64,
    claim: Option<i64>,
    from: NaiveDate,
    to: NaiveDate,
    event: NaiveDate,
}

/// Statement-chain perturbations (integrity plants).
#[derive(Default, Clone)]
struct Chain {
    working_days_only: bool,
    no_sequence: bool,
    drop_day: Option<NaiveDate>,
    /// This day's statement is sent in USD (with USD balances).
    foreign_day: Option<NaiveDate>,
    close_break: Option<(NaiveDate, i64)>,
    open_jump: Option<(NaiveDate, i64)>,
    seq_skip: Option<NaiveDate>,
    /// Re-deliver this day's statement in a second file: changed content (true) or identical.
    redeliver: Option<(NaiveDate, bool)>,
}

/// A finding the world plants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub project: String,
    pub code: &'static str,
    pub amount: i64,
    pub severity: &'static str,
    /// The finding's period as docs/findings.md states it for the code (always given).
    pub period: Option<String>,
    pub why: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Clean,
    Plant(&'static str, u8),
    Near(&'static str),
}

/// Every plant (code, variant) and near miss the world builds.
pub const PLANTS: &[(&str, u8)] = &[
    ("LABOR_COST_MISSING", 0),
    ("LABOR_COST_SHORT", 0),
    ("LABOR_COST_LATE", 0),
    ("PAYROLL_FUNDING_GAP", 0),
    ("WAGES_UNPAID", 0),
    // a worker's September unpaid while October's batch is paid early, inside September's pay
    // window: the batch pays October's sheet as a whole, so it cannot cure September
    ("WAGES_UNPAID", 1),
    ("WAGES_SHORT", 0),
    ("WAGES_SHORT", 1),
    ("PAYMENT_FAILED_UNRESOLVED", 0),
    ("BATCH_MISMATCH", 0),
    ("NON_WAGE_DEBIT", 0),
    ("PAYEE_NOT_ON_ROSTER", 0),
    ("ABNORMAL_PAY", 0),
    ("ABNORMAL_PAY", 1),
    ("GUARANTEE_MISSING", 0),
    ("GUARANTEE_SHORT", 0),
    ("GUARANTEE_EXPIRING", 0),
    ("GUARANTEE_EXPIRED", 0),
    ("GUARANTEE_NOT_REPLENISHED", 0),
    ("BALANCE_BREAK", 0),
    ("BALANCE_BREAK", 1),
    ("STATEMENT_GAP", 0),
    ("STATEMENT_MISSING", 0),
    // the day's statement arrived in USD on the CNY account: it does not count
    ("STATEMENT_MISSING", 1),
    ("DUPLICATE_DELIVERY", 0),
];

pub const NEAR_MISSES: &[&str] = &[
    "late_payment_on_deadline_day",
    "funding_exactly_enough",
    "unpaid_month_paid_late_in_own_batch",
    "failed_line_repaid_in_own_batch",
    "gross_debit_with_return_and_repayment",
    "allowed_counterparty_debit",
    "results_without_id_paid_by_card",
    "average_exactly_at_floor",
    "net_exactly_at_ceiling",
    "letter_exactly_required_chinese_province",
    "letter_expiring_after_window",
    "expired_letter_renewed",
    "drawdown_topped_up_in_time",
    "three_clean_years_exempt",
    "weekends_and_holidays_not_delivered",
    "identical_redelivery",
    "non_wage_debit_reversed",
    "truncated_batch_reference",
    "dates_and_codes_in_wage_texts",
    "intraday_copies_of_every_day",
];

pub const ALLOWED_COUNTERPARTY: &str = "6217 0000 0000 0009 001";

pub struct World {
    /// (relative path, bytes): `registry/…` and `bank/<partner>/…`.
    pub files: Vec<(String, Vec<u8>)>,
    pub expected: Vec<Expected>,
    pub projects: Vec<(String, Kind)>,
}

pub const PARTNERS: &[(&str, &str)] = &[("bb-icbc", "102"), ("bb-cmb", "308")];

struct Registry {
    zh: [bool; 6],
    projects: Vec<Vec<String>>,
    accounts: Vec<Vec<String>>,
    obligations: Vec<Vec<String>>,
    pay_sheet: Vec<Vec<String>>,
    roster: Vec<Vec<String>>,
    requirements: Vec<Vec<String>>,
}

/// Builds the world for one seed.
pub fn build(seed: u64, clean: usize) -> World {
    let mut rng = Rng::new(seed);
    let mut kinds: Vec<Kind> = PLANTS.iter().map(|&(c, v)| Kind::Plant(c, v)).collect();
    kinds.extend(NEAR_MISSES.iter().map(|&n| Kind::Near(n)));
    kinds.extend(std::iter::repeat_n(Kind::Clean, clean));
    rng.shuffle(&mut kinds);
    let mut reg = Registry {
        zh: [
            rng.chance(70),
            rng.chance(50),
            rng.chance(50),
            rng.chance(50),
            rng.chance(50),
            rng.chance(50),
        ],
        projects: vec![],
        accounts: vec![],
        obligations: vec![],
        pay_sheet: vec![],
        roster: vec![],
        requirements: vec![],
    };
    let mut world = World {
        files: vec![],
        expected: vec![],
        projects: vec![],
    };
    for (i, kind) in kinds.iter().enumerate() {
        let code = format!("BB{seed}-{:03}", i + 1);
        project(&mut rng, &code, *kind, &mut reg, &mut world);
        world.projects.push((code, *kind));
    }
    write_registry(&mut rng, &reg, &mut world);
    // banks send in no particular order: results before statements, re-sends before originals
    let mut order: Vec<usize> = (0..world.files.len()).collect();
    rng.shuffle(&mut order);
    for (i, (rel, _)) in world.files.iter_mut().enumerate() {
        if let Some((dir, name)) = rel.rsplit_once('/') {
            if dir.starts_with("bank/") {
                *rel = format!("{dir}/{:04}-{name}", order[i]);
            }
        }
    }
    world
}

#[allow(clippy::too_many_lines)]
fn project(rng: &mut Rng, code: &str, kind: Kind, reg: &mut Registry, world: &mut World) {
    let plant = match kind {
        Kind::Plant(c, v) => Some((c, v)),
        _ => None,
    };
    let near = match kind {
        Kind::Near(n) => Some(n),
        _ => None,
    };
    let is = |c: &str| plant.map(|p| p.0) == Some(c);
    let is_v = |c: &str, v: u8| plant == Some((c, v));
    let nm = |n: &str| near == Some(n);
    let a = as_of();
    let mut expect = |code_: &'static str,
                      amount: i64,
                      severity: &'static str,
                      period: Option<String>,
                      why: String| {
        world.expected.push(Expected {
            project: code.to_string(),
            code: code_,
            amount,
            severity,
            period,
            why,
        })
    };

    let (partner, bank_code) = *rng.pick(PARTNERS);
    let prov = province(
        rng,
        is("GUARANTEE_SHORT") || nm("letter_exactly_required_chinese_province"),
    );
    let cu = format!(
        "{}城建投资有限公司",
        rng.pick(&["福州", "贵阳", "深圳", "长沙", "南宁", "昆明"])
    );
    let cu_code = uscc(rng);
    let gc = format!("中建{}局第{}工程有限公司", rng.range(1, 8), rng.range(1, 9));
    let gc_code = uscc(rng);
    let contract = rng.range(1_000_000_000, 40_000_000_000) + rng.range(0, 99);
    let start = d(2026, 3, 1) + Duration::days(rng.range(0, 60));
    let planned_end = d(2027, 6, 30) + Duration::days(rng.range(0, 200));
    reg.projects.push(vec![
        code.into(),
        format!("{code} 安置房工程"),
        prov.spelling.into(),
        cu.clone(),
        cu_code,
        gc.clone(),
        gc_code.clone(),
        money_text(rng, contract),
        date_text(rng, start),
        date_text(rng, planned_end),
        rng.pick(&["", "在建", "open", "施工中"]).to_string(),
    ]);
    let account = format!("{bank_code}{}", digits(rng, 14));
    let payer = digits(rng, 16);
    reg.accounts.push(vec![
        account.clone(),
        format!("{gc}农民工工资专用账户"),
        code.into(),
        format!("{bank_code}{}", digits(rng, 9)),
        d(2026, 2, 1).to_string(),
        rng.pick(&["", "CNY", "人民币", "RMB"]).to_string(),
        payer.clone(),
    ]);

    // ---- workers, roster, pay sheets
    let n_workers = rng.range(3, 6) as usize;
    let workers: Vec<Worker> = (0..n_workers)
        .map(|_| Worker {
            name: person_name(rng),
            id: id_number(rng),
            card: format!("6222{}", digits(rng, 15)),
        })
        .collect();
    let employer = format!(
        "{}劳务有限公司",
        rng.pick(&["闽建", "黔丰", "鹏城", "湘楚"])
    );
    // How this project's clerk types the roster and pay sheets: as a bank gives numbers and
    // months, or as people write them — cards in groups of four, an ID's check character in
    // lower case, months as 2026年9月. The same workers and months either way; the bank's files
    // always give the digits.
    let by_hand = rng.chance(30);
    let typed_id = |id: &str| {
        if by_hand {
            id.to_lowercase()
        } else {
            id.to_string()
        }
    };
    let typed_card = |card: &str| {
        if by_hand {
            let groups: Vec<String> = card
                .as_bytes()
                .chunks(4)
                .map(|g| String::from_utf8_lossy(g).into_owned())
                .collect();
            groups.join(" ")
        } else {
            card.to_string()
        }
    };
    for w in &workers {
        reg.roster.push(vec![
            code.into(),
            w.name.clone(),
            typed_id(&w.id),
            typed_card(&w.card),
            employer.clone(),
            start.to_string(),
            String::new(),
        ]);
    }
    let months = [(2026, 8u32), (2026, 9), (2026, 10)];
    // Which month the ABNORMAL_PAY / WAGES plants sit in.
    let plant_month = *rng.pick(&months[..]);
    // WAGES_UNPAID / WAGES_SHORT sit in a month whose pay deadline has passed.
    let wage_month = if is_v("WAGES_UNPAID", 1) || is_v("WAGES_SHORT", 1) {
        (2026, 9)
    } else {
        *rng.pick(&months[..2])
    };
    let mut nets: BTreeMap<(i32, u32), Vec<i64>> = BTreeMap::new();
    for &(y, m) in &months {
        let mut v: Vec<i64> = (0..n_workers)
            .map(|_| rng.range(400_000, 1_200_000) + rng.range(0, 99))
            .collect();
        if (is_v("ABNORMAL_PAY", 0) || nm("average_exactly_at_floor")) && (y, m) == plant_month {
            let floor_total = 190_000 * n_workers as i64;
            let short = if is_v("ABNORMAL_PAY", 0) {
                rng.range(1, 20_000)
            } else {
                0
            };
            let total = floor_total - short;
            v = vec![total / n_workers as i64; n_workers];
            let spread = rng.range(0, 5_000);
            v[0] += spread + total % n_workers as i64;
            v[1] -= spread;
            if short > 0 {
                expect(
                    "ABNORMAL_PAY",
                    short,
                    "yellow",
                    Some(format!("{y}-{m:02}")),
                    "average net below the 1,900.00 floor".into(),
                );
            }
        }
        if (is_v("ABNORMAL_PAY", 1) || nm("net_exactly_at_ceiling")) && (y, m) == plant_month {
            let over = if is_v("ABNORMAL_PAY", 1) {
                rng.range(1, 300_000)
            } else {
                0
            };
            v[1] = 5_000_000 + over;
            if over > 0 {
                expect(
                    "ABNORMAL_PAY",
                    over,
                    "yellow",
                    Some(format!("{y}-{m:02}")),
                    "one worker's net above the 50,000.00 ceiling".into(),
                );
            }
        }
        nets.insert((y, m), v);
    }

    // ---- payroll batches (month M paid in M + 1)
    let early_october = is_v("WAGES_UNPAID", 1) || is_v("WAGES_SHORT", 1);
    let register_batch_ref = rng.chance(30) && !early_october;
    let long_ids = nm("truncated_batch_reference");
    // the bank reports payroll results in ISO pain.002 (no ID numbers: workers by card) or
    // in the core-banking `|` file
    let pain002 = rng.chance(40) && !nm("results_without_id_paid_by_card");
    let mut batches: Vec<Batch> = vec![];
    let mut evs: Vec<Ev> = vec![];
    let mut refn = 0u32;
    let mut next_ref = |rng: &mut Rng| {
        refn += 1;
        format!("{bank_code}R{}{:04}", digits(rng, 8), refn)
    };
    let mut month_batch: BTreeMap<(i32, u32), String> = BTreeMap::new();
    for &(y, m) in &months {
        let v = &nets[&(y, m)];
        let batch_id = if long_ids {
            format!("{code}-PR-{y}-{m:02}-{}-DAIFA", digits(rng, 6))
        } else {
            format!("{code}-PR-{y}-{m:02}")
        };
        month_batch.insert((y, m), batch_id.clone());
        for (w, net) in workers.iter().zip(v) {
            let gross = net + rng.range(0, 80_000);
            reg.pay_sheet.push(vec![
                code.into(),
                if by_hand {
                    format!("{y}年{m}月")
                } else {
                    format!("{y}-{m:02}")
                },
                employer.clone(),
                w.name.clone(),
                typed_id(&w.id),
                typed_card(&w.card),
                yuan(gross),
                yuan(*net),
                if register_batch_ref {
                    batch_id.clone()
                } else {
                    String::new()
                },
            ]);
        }
        let pay_date = if m == 10 && early_october {
            next_working(d(2026, 10, rng.range(26, 29) as u32))
        } else if m == 10 {
            next_working(d(2026, 11, rng.range(2, 6) as u32))
        } else {
            next_working(d(y, m + 1, rng.range(8, 14) as u32))
        };
        let mut lines: Vec<Line> = workers
            .iter()
            .zip(v)
            .map(|(w, net)| Line {
                worker: w.clone(),
                amount: *net,
                status: "0",
                with_id: !nm("results_without_id_paid_by_card"),
            })
            .collect();
        let pm = (y, m) == plant_month;
        let mut failed: Option<Line> = None;
        let mut extra_debit = 0;
        let mut gross_debit = false;
        let mut batch_ref_on_debit = rng.chance(75);
        if is("WAGES_UNPAID") && (y, m) == wage_month {
            // (variant 1: October's batch is paid early, see `early_october`)
            let w = lines.remove(rng.range(0, lines.len() as i64 - 1) as usize);
            let (dy, dm) = (y, m);
            let due = wage_deadline(dy, dm);
            expect(
                "WAGES_UNPAID",
                w.amount,
                graded((a - due).num_days(), w.amount),
                Some(format!("{y}-{m:02}")),
                format!("worker left out of the {y}-{m:02} batch; next month's batch pays its own sheet"),
            );
        }
        if nm("unpaid_month_paid_late_in_own_batch") && (y, m) == wage_month {
            let w = lines.remove(0);
            let late = Batch {
                id: format!("{batch_id}-B"),
                pay_date: next_working(wage_deadline(y, m) + Duration::days(rng.range(2, 10))),
                lines: vec![w.clone()],
            };
            evs.push(Ev {
                date: late.pay_date,
                credit: false,
                amount: w.amount,
                bank_ref: next_ref(rng),
                batch_ref: Some(late.id.clone()),
                cp_name: None,
                cp_acct: None,
                text: Some(format!("{y}年{m}月工资补发")),
                reversal: false,
            });
            batches.push(late);
        }
        if is("WAGES_SHORT") && (y, m) == wage_month {
            let i = rng.range(0, lines.len() as i64 - 1) as usize;
            let short = rng.range(1, 100_000).min(lines[i].amount - 1);
            lines[i].amount -= short;
            let due = wage_deadline(y, m);
            expect(
                "WAGES_SHORT",
                short,
                graded((a - due).num_days(), short),
                Some(format!("{y}-{m:02}")),
                "one worker paid less than the sheet's net".into(),
            );
        }
        if m == 10
            && (is("PAYMENT_FAILED_UNRESOLVED")
                || nm("failed_line_repaid_in_own_batch")
                || nm("gross_debit_with_return_and_repayment"))
        {
            let i = rng.range(0, lines.len() as i64 - 1) as usize;
            lines[i].status = "1";
            failed = Some(lines[i].clone());
            gross_debit = nm("gross_debit_with_return_and_repayment");
            if is("PAYMENT_FAILED_UNRESOLVED") {
                let due = pay_date + Duration::days(10);
                expect(
                    "PAYMENT_FAILED_UNRESOLVED",
                    lines[i].amount,
                    graded((a - due).num_days(), lines[i].amount),
                    Some(pay_date.format("%Y-%m").to_string()),
                    "failed line never re-paid; no month named by the result, so its pay date's month".into(),
                );
            }
        }
        if is("BATCH_MISMATCH") && m == 10 {
            extra_debit = rng.range(1, 50_000);
            batch_ref_on_debit = true;
            expect(
                "BATCH_MISMATCH",
                extra_debit,
                "orange",
                Some(pay_date.format("%Y-%m").to_string()),
                "bulk debit larger than the successful lines".into(),
            );
        }
        if is("PAYEE_NOT_ON_ROSTER") && pm {
            let stranger = Worker {
                name: person_name(rng),
                id: id_number(rng),
                card: format!("6228{}", digits(rng, 15)),
            };
            let amt = rng.range(300_000, 900_000);
            lines.push(Line {
                worker: stranger,
                amount: amt,
                status: "0",
                with_id: true,
            });
            expect(
                "PAYEE_NOT_ON_ROSTER",
                amt,
                "red",
                Some(pay_date.format("%Y-%m").to_string()),
                "a paid line to someone on no roster or sheet".into(),
            );
        }
        rng.shuffle(&mut lines);
        let paid: i64 = lines
            .iter()
            .filter(|l| l.status == "0")
            .map(|l| l.amount)
            .sum();
        let failed_sum: i64 = lines
            .iter()
            .filter(|l| l.status == "1")
            .map(|l| l.amount)
            .sum();
        let debit = if gross_debit { paid + failed_sum } else { paid } + extra_debit;
        let text = if early_october && m == 10 {
            None
        } else if nm("dates_and_codes_in_wage_texts") {
            // a full date and a batch code with the pay month's digits: neither names a month
            Some(if rng.chance(50) {
                format!("代发工资 {pay_date}")
            } else {
                format!("代发批次PR{}001", pay_date.format("%Y%m"))
            })
        } else {
            wage_text(rng, y, m)
        };
        evs.push(Ev {
            date: pay_date,
            credit: false,
            amount: debit,
            bank_ref: next_ref(rng),
            batch_ref: if long_ids {
                // the bank truncates long references to 20 characters
                Some(batch_id.chars().take(20).collect())
            } else {
                batch_ref_on_debit.then(|| batch_id.clone())
            },
            cp_name: None,
            cp_acct: None,
            text,
            reversal: false,
        });
        batches.push(Batch {
            id: batch_id.clone(),
            pay_date,
            lines,
        });
        if let Some(f) = failed {
            if gross_debit {
                // The worker's bank returns the failed line's money (a refund of a gross debit).
                evs.push(Ev {
                    date: next_working(pay_date + Duration::days(1)),
                    credit: true,
                    amount: f.amount,
                    bank_ref: next_ref(rng),
                    batch_ref: None,
                    cp_name: Some(f.worker.name.clone()),
                    cp_acct: Some(f.worker.card.clone()),
                    text: Some("退汇 账户已销户".into()),
                    reversal: false,
                });
            }
            if !is("PAYMENT_FAILED_UNRESOLVED") {
                // Re-paid in its own batch within the 10 days: `…-PR-2026-10-R`, whose id
                // has the regular batch's id as a prefix.
                let again = Batch {
                    id: format!("{batch_id}-R"),
                    pay_date: next_working(pay_date + Duration::days(rng.range(2, 5))),
                    lines: vec![Line {
                        status: "0",
                        // a new card (the old one was closed): only the ID number says who it
                        // is, so a pain.002 bank (no ID numbers) re-pays to the same card
                        worker: Worker {
                            card: if pain002 {
                                f.worker.card.clone()
                            } else {
                                format!("6217{}", digits(rng, 15))
                            },
                            ..f.worker.clone()
                        },
                        ..f.clone()
                    }],
                };
                evs.push(Ev {
                    date: again.pay_date,
                    credit: false,
                    amount: f.amount,
                    bank_ref: next_ref(rng),
                    batch_ref: Some(again.id.clone()),
                    cp_name: None,
                    cp_acct: None,
                    text: Some(format!("{y}年{m}月工资重发")),
                    reversal: false,
                });
                batches.push(again);
            }
        }
    }

    // ---- labor-cost obligations (periods 2026-09 .. 2026-11) and their credits
    let ob_months = [
        (2026, 9u32, 8i64, 14i64),
        (2026, 10, 12, 16),
        (2026, 11, 9, 13),
    ];
    let lc_plant_month = if rng.chance(50) { 9 } else { 11 };
    let funding = is("PAYROLL_FUNDING_GAP") || nm("funding_exactly_enough");
    for &(y, m, lo, hi) in &ob_months {
        let ob_id = format!("{code}-LC-{y}{m:02}");
        let due = next_working(d(y, m, rng.range(lo, hi) as u32));
        // The labor cost paid in month M funds the wages of month M - 1 paid in month M.
        let wages: i64 = nets[&(2026, m - 1)].iter().sum();
        let amount = if funding {
            wages + rng.range(0, 100_000)
        } else {
            wages * rng.range(110, 140) / 100 + rng.range(0, 99)
        };
        reg.obligations.push(vec![
            ob_id.clone(),
            code.into(),
            format!("{y}-{m:02}"),
            date_text(rng, due),
            money_text(rng, amount),
        ]);
        let deadline = add_working_days(due, 3);
        let planted_here = m == lc_plant_month;
        let mut credit = Some((next_working(due - Duration::days(rng.range(0, 3))), amount));
        let mut text = match rng.range(0, 3) {
            0 => Some(format!("人工费 {ob_id}")),
            1 => Some(format!("{y}年{m}月人工费用")),
            2 => Some("人工费用拨付".to_string()),
            _ => None,
        };
        if planted_here && is("LABOR_COST_MISSING") {
            credit = None;
            expect(
                "LABOR_COST_MISSING",
                amount,
                graded((a - deadline).num_days(), amount),
                Some(format!("{y}-{m:02}")),
                "no credit at all".into(),
            );
        }
        if planted_here && is("LABOR_COST_SHORT") {
            let short = rng.range(100, 5_000_000).min(amount - 1);
            credit = Some((credit.expect("credit").0, amount - short));
            text = Some(format!("人工费 {ob_id}"));
            expect(
                "LABOR_COST_SHORT",
                short,
                graded((a - deadline).num_days(), short),
                Some(format!("{y}-{m:02}")),
                "credit short of the obligation".into(),
            );
        }
        if m == 9 && is("LABOR_COST_LATE") {
            let late = rng.range(2, 20);
            let paid_on = next_working(deadline + Duration::days(late));
            credit = Some((paid_on, amount));
            expect(
                "LABOR_COST_LATE",
                amount,
                graded((paid_on - deadline).num_days(), amount),
                Some(format!("{y}-{m:02}")),
                format!(
                    "paid in full {} days after the deadline",
                    (paid_on - deadline).num_days()
                ),
            );
        }
        if m == 9 && nm("late_payment_on_deadline_day") {
            credit = Some((deadline, amount));
        }
        if let Some((date, amt)) = credit {
            evs.push(Ev {
                date,
                credit: true,
                amount: amt,
                bank_ref: next_ref(rng),
                batch_ref: None,
                cp_name: Some(cu.clone()),
                cp_acct: Some(payer.clone()),
                text,
                reversal: false,
            });
        }
    }

    // ---- other debits
    if is("NON_WAGE_DEBIT") {
        let amt = rng.range(1_000_000, 8_000_000);
        let date = next_working(d(2026, 10, 12) + Duration::days(rng.range(0, 30)));
        evs.push(Ev {
            date,
            credit: false,
            amount: amt,
            bank_ref: next_ref(rng),
            batch_ref: None,
            cp_name: Some("闽侯县鑫达建材有限公司".into()),
            cp_acct: Some(digits(rng, 17)),
            text: Some("材料款".into()),
            reversal: false,
        });
        expect(
            "NON_WAGE_DEBIT",
            amt,
            "red",
            Some(date.format("%Y-%m").to_string()),
            "materials paid from the wage account".into(),
        );
    }
    if nm("allowed_counterparty_debit") {
        evs.push(Ev {
            date: next_working(d(2026, 10, 12) + Duration::days(rng.range(0, 30))),
            credit: false,
            amount: rng.range(1_000_000, 8_000_000),
            bank_ref: next_ref(rng),
            batch_ref: None,
            cp_name: Some("工资保证金专户".into()),
            cp_acct: Some(ALLOWED_COUNTERPARTY.replace(' ', "")),
            text: Some("保证金划转".into()),
            reversal: false,
        });
    }

    if nm("non_wage_debit_reversed") {
        let date = next_working(d(2026, 10, 12) + Duration::days(rng.range(0, 25)));
        let amount = rng.range(1_000_000, 8_000_000);
        let debit = Ev {
            date,
            credit: false,
            amount,
            bank_ref: next_ref(rng),
            batch_ref: None,
            cp_name: Some("闽侯县鑫达建材有限公司".into()),
            cp_acct: Some(digits(rng, 17)),
            text: Some("材料款".into()),
            reversal: false,
        };
        // the bank reverses its own wrong booking the next working day (RvslInd)
        evs.push(Ev {
            date: next_working(date + Duration::days(1)),
            credit: true,
            bank_ref: next_ref(rng),
            text: Some("冲正 误划款".into()),
            reversal: true,
            ..debit.clone()
        });
        evs.push(debit);
    }

    // ---- the account's balance and the funding plant
    let opening = if funding {
        rng.range(2_000_000, 6_000_000)
    } else {
        rng.range(5_000_000, 15_000_000)
    };
    let closing_on_as_of: i64 = opening
        + evs
            .iter()
            .filter(|e| e.date <= a)
            .map(|e| if e.credit { e.amount } else { -e.amount })
            .sum::<i64>();
    assert!(closing_on_as_of >= 0, "{code}: balance below zero");
    if funding {
        let gap = if is("PAYROLL_FUNDING_GAP") {
            rng.range(1, 2_000_000)
        } else {
            0
        };
        let total = closing_on_as_of + gap;
        let n = n_workers as i64;
        assert!(
            total / n < 5_000_000 && total / n > 190_000,
            "{code}: november nets out of range"
        );
        for (i, w) in workers.iter().enumerate() {
            let net = total / n + if i == 0 { total % n } else { 0 };
            reg.pay_sheet.push(vec![
                code.into(),
                if by_hand { "2026年11月" } else { "202611" }.into(),
                employer.clone(),
                w.name.clone(),
                typed_id(&w.id),
                typed_card(&w.card),
                yuan(net),
                yuan(net),
                String::new(),
            ]);
        }
        if gap > 0 {
            let deadline = d(2026, 12, 31);
            let left = (deadline - a).num_days();
            expect(
                "PAYROLL_FUNDING_GAP",
                gap,
                if left <= 3 {
                    "red"
                } else if left <= 10 {
                    "orange"
                } else {
                    "yellow"
                },
                Some("2026-11".into()),
                "November's sheet filed, the balance short of it".into(),
            );
        }
    }

    // ---- guarantee
    let registered = rng.chance(50) || nm("three_clean_years_exempt");
    let credit = if nm("three_clean_years_exempt") {
        ("三年无拖欠", 0, 1)
    } else if registered {
        *rng.pick(&[
            ("normal", 1, 1),
            ("", 1, 1),
            ("一般", 1, 1),
            ("两年无拖欠", 1, 2),
            ("two clean years", 1, 2),
            ("有拖欠", 3, 2),
            ("连续2年无拖欠", 1, 2),
            ("2年内有拖欠", 3, 2),
            ("Arrears-Last-Two-Years", 3, 2),
            ("严重失信", 2, 1),
            ("seriously untrustworthy", 2, 1),
        ])
    } else {
        ("", 1, 1)
    };
    let base = ceil_div(contract * prov.rate.0, prov.rate.1);
    let mut required = ceil_div(base * credit.1, credit.2);
    if let Some(cap) = prov.cap {
        // the seriously untrustworthy pay double with no cap
        if credit.1 != 2 {
            required = required.min(cap);
        }
    }
    let cover_from = start;
    let cover_to = planned_end;
    if registered {
        reg.requirements.push(vec![
            code.into(),
            yuan(contract),
            credit.0.into(),
            String::new(),
            String::new(),
            cover_from.to_string(),
            cover_to.to_string(),
            String::new(),
        ]);
    }
    let number = format!("BH-{code}-{}", digits(rng, 6));
    let full = Letter {
        number: number.clone(),
        action: "new",
        status: "issued",
        previous: None,
        amount: required,
        claim: None,
        from: cover_from,
        to: cover_to + Duration::days(rng.range(0, 60)),
        event: cover_from,
    };
    let mut letters: Vec<Letter> = vec![];
    if is("GUARANTEE_MISSING") {
        expect(
            "GUARANTEE_MISSING",
            required,
            graded((a - cover_from).num_days(), required),
            Some(format!("{cover_from}..{cover_to}")),
            "no letter and no deposit".into(),
        );
    } else if nm("three_clean_years_exempt") {
        // exempt: nothing required, no letter sent
    } else if is("GUARANTEE_SHORT") {
        let short = rng.range(100, 2_000_000).min(required - 1);
        let event = a - Duration::days(rng.range(3, 25));
        letters.push(Letter {
            amount: required - short,
            event,
            ..full.clone()
        });
        expect(
            "GUARANTEE_SHORT",
            short,
            graded((a - event).num_days(), short),
            Some(format!("{cover_from}..{cover_to}")),
            format!(
                "letter below the province's requirement (province written {})",
                prov.spelling
            ),
        );
    } else if is("GUARANTEE_EXPIRING") || nm("letter_expiring_after_window") {
        let to = if is("GUARANTEE_EXPIRING") {
            a + Duration::days(rng.range(3, 25))
        } else {
            a + Duration::days(rng.range(36, 60))
        };
        letters.push(Letter { to, ..full.clone() });
        if is("GUARANTEE_EXPIRING") {
            expect(
                "GUARANTEE_EXPIRING",
                required,
                "yellow",
                Some(to.format("%Y-%m").to_string()),
                "the only letter expires within 30 days, cover runs on".into(),
            );
        }
    } else if is("GUARANTEE_EXPIRED") || nm("expired_letter_renewed") {
        let to = a - Duration::days(rng.range(3, 25));
        letters.push(Letter { to, ..full.clone() });
        if is("GUARANTEE_EXPIRED") {
            expect(
                "GUARANTEE_EXPIRED",
                required,
                graded((a - to).num_days(), required),
                Some(to.format("%Y-%m").to_string()),
                "the letter expired, cover runs on".into(),
            );
        } else {
            letters.push(Letter {
                number: format!("{number}-X"),
                action: "renew",
                previous: Some(number.clone()),
                from: to + Duration::days(1),
                to: cover_to + Duration::days(30),
                event: to - Duration::days(5),
                ..full.clone()
            });
        }
    } else if is("GUARANTEE_NOT_REPLENISHED") || nm("drawdown_topped_up_in_time") {
        letters.push(full.clone());
        let on = next_working(d(2026, 10, 19) + Duration::days(rng.range(0, 11)));
        let claim = rng.range(1_000_000, 10_000_000).min(required - 1);
        letters.push(Letter {
            action: "claim",
            status: "claimed",
            claim: Some(claim),
            event: on,
            ..full.clone()
        });
        let deadline = add_working_days(on, 10);
        if is("GUARANTEE_NOT_REPLENISHED") {
            expect(
                "GUARANTEE_NOT_REPLENISHED",
                claim,
                graded((a - deadline).num_days(), claim),
                Some(on.format("%Y-%m").to_string()),
                "drawn down, not topped up within 10 working days".into(),
            );
        } else {
            letters.push(Letter {
                action: "top_up",
                status: "issued",
                previous: Some(number.clone()),
                event: add_working_days(on, rng.range(1, 9) as u32),
                ..full.clone()
            });
        }
    } else {
        letters.push(full.clone());
    }
    if !letters.is_empty() {
        world.files.push((
            format!("bank/{partner}/guarantee-{code}.json"),
            letters_json(&letters, bank_code, &gc, &gc_code, code, contract).into_bytes(),
        ));
    }

    // ---- statements
    let mut chain = Chain {
        working_days_only: nm("weekends_and_holidays_not_delivered"),
        no_sequence: rng.chance(20),
        ..Chain::default()
    };
    let quiet_day = |rng: &mut Rng| loop {
        let day = next_working(d(2026, 9, 8) + Duration::days(rng.range(0, 65)));
        if !evs
            .iter()
            .any(|e| e.date == day || e.date == day + Duration::days(1))
            && day < d(2026, 11, 17)
        {
            return day;
        }
    };
    if is_v("BALANCE_BREAK", 0) {
        let day = quiet_day(rng);
        let x = rng.range(1, 900_000);
        chain.close_break = Some((day, x));
        expect(
            "BALANCE_BREAK",
            x,
            "orange",
            Some(day.format("%Y-%m").to_string()),
            format!("closing of {day} off by the amount"),
        );
    }
    if is_v("BALANCE_BREAK", 1) {
        let day = quiet_day(rng);
        let x = rng.range(1, 900_000);
        chain.open_jump = Some((day, x));
        expect(
            "BALANCE_BREAK",
            x,
            "orange",
            Some(day.format("%Y-%m").to_string()),
            format!("opening of {day} ≠ the previous closing, none missing"),
        );
    }
    if is("STATEMENT_GAP") {
        let day = quiet_day(rng);
        chain.no_sequence = false;
        chain.seq_skip = Some(day);
        let x = if rng.chance(50) {
            rng.range(1, 900_000)
        } else {
            0
        };
        if x > 0 {
            chain.open_jump = Some((day, x));
        }
        expect(
            "STATEMENT_GAP",
            x,
            "orange",
            Some(day.format("%Y-%m").to_string()),
            format!("sequence skips before {day}, jump {x}"),
        );
    }
    if is_v("STATEMENT_MISSING", 1) {
        let day = quiet_day(rng);
        chain.foreign_day = Some(day);
        expect(
            "STATEMENT_MISSING",
            0,
            "yellow",
            Some(day.format("%Y-%m").to_string()),
            format!("the statement of working day {day} came in USD on a CNY account"),
        );
    }
    if is_v("STATEMENT_MISSING", 0) {
        let day = quiet_day(rng);
        chain.no_sequence = true;
        chain.drop_day = Some(day);
        expect(
            "STATEMENT_MISSING",
            0,
            "yellow",
            Some(day.format("%Y-%m").to_string()),
            format!("no statement for working day {day}"),
        );
    }
    if is("DUPLICATE_DELIVERY") || nm("identical_redelivery") {
        let day = evs
            .iter()
            .filter(|e| e.credit && e.date < d(2026, 11, 14))
            .map(|e| e.date)
            .next()
            .expect("a credit day");
        chain.redeliver = Some((day, is("DUPLICATE_DELIVERY")));
        if is("DUPLICATE_DELIVERY") {
            expect(
                "DUPLICATE_DELIVERY",
                0,
                "orange",
                Some(day.format("%Y-%m").to_string()),
                format!("the statement of {day} re-sent with a changed remittance text"),
            );
        }
    }
    evs.sort_by_key(|e| e.date);
    let (main, again) = camt053(rng, &account, opening, &evs, &chain);
    world.files.push((
        format!("bank/{partner}/camt053-{code}.xml"),
        main.into_bytes(),
    ));
    if let Some(again) = again {
        world.files.push((
            format!("bank/{partner}/camt053-{code}-resend.xml"),
            again.into_bytes(),
        ));
    }
    for b in &batches {
        world.files.push(if pain002 {
            (
                format!("bank/{partner}/pain002-{}.xml", b.id),
                pain_002(b, &account).into_bytes(),
            )
        } else {
            (
                format!("bank/{partner}/payroll-{}.txt", b.id),
                core_payroll(b, code, &account).into_bytes(),
            )
        });
    }
    if nm("intraday_copies_of_every_day") {
        world.files.push((
            format!("bank/{partner}/camt052-{code}.xml"),
            camt052(&account, &evs).into_bytes(),
        ));
    }
}

fn wage_text(rng: &mut Rng, y: i32, m: u32) -> Option<String> {
    match rng.range(0, 6) {
        0 => Some(format!("{y}年{m}月工资")),
        1 => Some(format!("{m}月份工资")),
        2 => Some(format!("{y}-{m:02} 工资")),
        3 => Some(format!("{y}{m:02}工资")),
        4 => Some("代发工资".into()),
        5 => Some(format!("代发{y}年{m:02}月份工资")),
        _ => None,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// camt.053.001.02: one `<Stmt>` per day; returns the file and, when asked, a re-delivery.
fn camt053(
    rng: &mut Rng,
    account: &str,
    opening: i64,
    evs: &[Ev],
    chain: &Chain,
) -> (String, Option<String>) {
    let mut stmts: Vec<(NaiveDate, String, String)> = vec![];
    let mut seq = rng.range(100, 5000);
    let mut balance = opening;
    let mut day = d(2026, 9, 1);
    while day <= as_of() {
        let todays: Vec<&Ev> = evs.iter().filter(|e| e.date == day).collect();
        let deliver = (!chain.working_days_only || is_working(day)) && chain.drop_day != Some(day);
        assert!(
            deliver || todays.is_empty(),
            "movement on an undelivered day {day}"
        );
        if !deliver {
            day += Duration::days(1);
            continue;
        }
        if chain.foreign_day == Some(day) {
            assert!(todays.is_empty(), "movement on the foreign-currency day");
            let mut s = String::from("<Stmt>\n");
            let _ = writeln!(s, "<Id>STMT-{account}-{}-USD</Id>", day.format("%Y%m%d"));
            if !chain.no_sequence {
                let _ = writeln!(s, "<ElctrncSeqNb>{seq}</ElctrncSeqNb>");
            }
            let _ = writeln!(s, "<CreDtTm>{day}T20:00:00</CreDtTm>");
            let _ = writeln!(
                s,
                "<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>USD</Ccy></Acct>"
            );
            let usd = balance / 7;
            bal_ccy(&mut s, "OPBD", usd, day, "USD");
            bal_ccy(&mut s, "CLBD", usd, day, "USD");
            s.push_str("</Stmt>\n");
            stmts.push((day, s, String::new()));
            seq += 1;
            day += Duration::days(1);
            continue;
        }
        if let Some((jd, x)) = chain.open_jump {
            if jd == day {
                balance += x;
            }
        }
        if chain.seq_skip == Some(day) {
            seq += 1;
        }
        let open = balance;
        let net: i64 = todays
            .iter()
            .map(|e| if e.credit { e.amount } else { -e.amount })
            .sum();
        balance += net;
        if let Some((bd, x)) = chain.close_break {
            if bd == day {
                balance += x;
            }
        }
        let mut s = String::new();
        let id = format!("STMT-{account}-{}", day.format("%Y%m%d"));
        s.push_str("<Stmt>\n");
        let _ = writeln!(s, "<Id>{id}</Id>");
        if !chain.no_sequence {
            let _ = writeln!(s, "<ElctrncSeqNb>{seq}</ElctrncSeqNb>");
        }
        let _ = writeln!(s, "<CreDtTm>{day}T20:00:00</CreDtTm>");
        let _ = writeln!(
            s,
            "<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>"
        );
        bal(&mut s, "OPBD", open, day);
        bal(&mut s, "CLBD", balance, day);
        for e in &todays {
            ntry(&mut s, e, day);
        }
        s.push_str("</Stmt>\n");
        let resend = match chain.redeliver {
            Some((rd, true)) if rd == day => with_remittance_change(&s),
            Some((rd, false)) if rd == day => s.clone(),
            _ => String::new(),
        };
        stmts.push((day, s, resend));
        seq += 1;
        day += Duration::days(1);
    }
    let main = doc(
        &stmts.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
        &format!("MSG-{account}"),
    );
    let again: Vec<String> = stmts
        .iter()
        .filter(|s| !s.2.is_empty())
        .map(|s| s.2.clone())
        .collect();
    let again = (!again.is_empty()).then(|| doc(&again, &format!("MSG-{account}-2")));
    (main, again)
}

/// Changes the first remittance text of the statement (adds a word after it).
fn with_remittance_change(s: &str) -> String {
    if s.contains("<Ustrd>") {
        s.replacen("</Ustrd>", " 更正</Ustrd>", 1)
    } else {
        s.replacen(
            "</NtryDtls>",
            "</NtryDtls><AddtlNtryInf>更正</AddtlNtryInf>",
            1,
        )
    }
}

fn doc(stmts: &[String], msg_id: &str) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\n<BkToCstmrStmt>\n",
    );
    let _ = writeln!(
        s,
        "<GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>2026-11-20T21:00:00</CreDtTm></GrpHdr>"
    );
    for st in stmts {
        s.push_str(st);
    }
    s.push_str("</BkToCstmrStmt>\n</Document>\n");
    s
}

fn bal(s: &mut String, tp: &str, amount: i64, day: NaiveDate) {
    bal_ccy(s, tp, amount, day, "CNY");
}

fn bal_ccy(s: &mut String, tp: &str, amount: i64, day: NaiveDate, ccy: &str) {
    let (amt, ind) = if amount < 0 {
        (-amount, "DBIT")
    } else {
        (amount, "CRDT")
    };
    let _ = writeln!(
        s,
        "<Bal><Tp><CdOrPrtry><Cd>{tp}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{ccy}\">{}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>",
        yuan(amt)
    );
}

fn ntry(s: &mut String, e: &Ev, day: NaiveDate) {
    let ind = if e.credit { "CRDT" } else { "DBIT" };
    let _ = write!(
        s,
        "<Ntry><Amt Ccy=\"CNY\">{}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{}<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{}</Cd><SubFmlyCd>OTHR</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls>",
        yuan(e.amount),
        if e.reversal { "<RvslInd>true</RvslInd>" } else { "" },
        e.bank_ref,
        if e.credit { "RCDT" } else { "ICDT" }
    );
    if let Some(b) = &e.batch_ref {
        let _ = write!(s, "<Btch><PmtInfId>{}</PmtInfId></Btch>", esc(b));
    }
    s.push_str("<TxDtls>");
    if e.cp_name.is_some() || e.cp_acct.is_some() {
        let (p, pa) = if e.credit {
            ("Dbtr", "DbtrAcct")
        } else {
            ("Cdtr", "CdtrAcct")
        };
        s.push_str("<RltdPties>");
        if let Some(n) = &e.cp_name {
            let _ = write!(s, "<{p}><Nm>{}</Nm></{p}>", esc(n));
        }
        if let Some(acc) = &e.cp_acct {
            let _ = write!(
                s,
                "<{pa}><Id><Othr><Id>{}</Id></Othr></Id></{pa}>",
                esc(acc)
            );
        }
        s.push_str("</RltdPties>");
    }
    if let Some(t) = &e.text {
        let _ = write!(s, "<RmtInf><Ustrd>{}</Ustrd></RmtInf>", esc(t));
    }
    s.push_str("</TxDtls></NtryDtls></Ntry>\n");
}

/// pain.002.001.03 (docs/parse-json.md, PaymentResult): one payment block per batch.
fn pain_002(b: &Batch, account: &str) -> String {
    let total: i64 = b.lines.iter().map(|l| l.amount).sum();
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.03\">\n<CstmrPmtStsRpt>\n",
    );
    let _ = writeln!(
        s,
        "<GrpHdr><MsgId>PSR-{}</MsgId><CreDtTm>{}T18:00:00</CreDtTm></GrpHdr>",
        b.id, b.pay_date
    );
    let _ = writeln!(
        s,
        "<OrgnlGrpInfAndSts><OrgnlMsgId>MSG-{}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId><OrgnlNbOfTxs>{}</OrgnlNbOfTxs><OrgnlCtrlSum>{}</OrgnlCtrlSum></OrgnlGrpInfAndSts>",
        b.id,
        b.lines.len(),
        yuan(total)
    );
    let _ = writeln!(
        s,
        "<OrgnlPmtInfAndSts><OrgnlPmtInfId>{}</OrgnlPmtInfId><OrgnlNbOfTxs>{}</OrgnlNbOfTxs><OrgnlCtrlSum>{}</OrgnlCtrlSum>",
        b.id,
        b.lines.len(),
        yuan(total)
    );
    for (i, l) in b.lines.iter().enumerate() {
        let (st, rsn) = if l.status == "1" {
            (
                "RJCT",
                "<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>账户已销户</AddtlInf></StsRsnInf>",
            )
        } else {
            ("ACSC", "")
        };
        let _ = writeln!(
            s,
            "<TxInfAndSts><StsId>{}-S{}</StsId><OrgnlEndToEndId>{}-{:03}</OrgnlEndToEndId><TxSts>{st}</TxSts>{rsn}<OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">{}</InstdAmt></Amt><ReqdExctnDt>{}</ReqdExctnDt><DbtrAcct><Id><Othr><Id>{account}</Id></Othr></Id></DbtrAcct><Cdtr><Nm>{}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>{}</Id></Othr></Id></CdtrAcct></OrgnlTxRef></TxInfAndSts>",
            b.id,
            i + 1,
            b.id,
            i + 1,
            yuan(l.amount),
            b.pay_date,
            l.worker.name,
            l.worker.card
        );
    }
    s.push_str("</OrgnlPmtInfAndSts>\n</CstmrPmtStsRpt>\n</Document>\n");
    s
}

/// camt.052.001.02 intraday reports repeating every day's entries (the end-of-day statement
/// is authoritative: they must not count twice).
fn camt052(account: &str, evs: &[Ev]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.052.001.02\">\n<BkToCstmrAcctRpt>\n",
    );
    let _ = writeln!(
        s,
        "<GrpHdr><MsgId>RPT-{account}</MsgId><CreDtTm>2026-11-20T12:00:00</CreDtTm></GrpHdr>"
    );
    let mut days: Vec<NaiveDate> = evs.iter().map(|e| e.date).collect();
    days.dedup();
    for day in days {
        let _ = writeln!(
            s,
            "<Rpt><Id>RPT-{account}-{}</Id><CreDtTm>{day}T12:00:00</CreDtTm><Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>",
            day.format("%Y%m%d")
        );
        for e in evs.iter().filter(|e| e.date == day) {
            ntry(&mut s, e, day);
        }
        s.push_str("</Rpt>\n");
    }
    s.push_str("</BkToCstmrAcctRpt>\n</Document>\n");
    s
}

/// docs/profiles.md `core-payroll`.
fn core_payroll(b: &Batch, code: &str, account: &str) -> String {
    let total: i64 = b.lines.iter().map(|l| l.amount).sum();
    let mut s = format!(
        "H|{}|EMP-{code}|{}|{}|{}|{account}\n",
        b.pay_date.format("%Y%m%d"),
        b.lines.len(),
        yuan(total),
        b.id
    );
    for (i, l) in b.lines.iter().enumerate() {
        let (rc, rt) = if l.status == "1" {
            ("AC04", "账户已销户")
        } else {
            ("", "")
        };
        let _ = writeln!(
            s,
            "D|{}|{}|{}|{}|{}|{}|{rc}|{rt}|{}-{:03}",
            i + 1,
            l.worker.name,
            if l.with_id { l.worker.id.as_str() } else { "" },
            l.worker.card,
            yuan(l.amount),
            l.status,
            b.id,
            i + 1
        );
    }
    s
}

fn letters_json(
    letters: &[Letter],
    bank_code: &str,
    gc: &str,
    gc_code: &str,
    code: &str,
    contract: i64,
) -> String {
    let items: Vec<serde_json::Value> = letters
        .iter()
        .map(|l| {
            let mut v = serde_json::json!({
                "number": l.number,
                "form": "bank_guarantee",
                "issuer_name": "合作银行",
                "issuer_code": bank_code,
                "applicant_name": gc,
                "applicant_credit_code": gc_code,
                "beneficiary": "市人力资源和社会保障局",
                "project_code": code,
                "contract_amount": yuan(contract),
                "guaranteed_amount": yuan(l.amount),
                "valid_from": l.from.to_string(),
                "valid_to": l.to.to_string(),
                "irrevocable_on_demand": true,
                "action": l.action,
                "status": l.status,
                "event_date": l.event.to_string(),
            });
            if let Some(p) = &l.previous {
                v["previous_number"] = p.clone().into();
            }
            if let Some(c) = l.claim {
                v["claim_amount"] = yuan(c).into();
            }
            v
        })
        .collect();
    serde_json::to_string_pretty(&items).expect("json")
}

// ---------------------------------------------------------------- registry files

fn csv_file(
    header_en: &[&str],
    header_zh: &[&str],
    zh: bool,
    gbk: bool,
    rows: &[Vec<String>],
) -> Vec<u8> {
    let mut s = String::new();
    s.push_str(&if zh { header_zh } else { header_en }.join(","));
    s.push('\n');
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .map(|c| {
                assert!(!c.contains('"'), "{c}");
                if c.contains(',') {
                    format!("\"{c}\"")
                } else {
                    c.clone()
                }
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push_str("\r\n");
    }
    if zh && gbk {
        // saved by Excel on a Chinese Windows
        let (bytes, _, bad) = encoding_rs::GBK.encode(&s);
        assert!(!bad, "not encodable in GBK");
        bytes.into_owned()
    } else {
        s.into_bytes()
    }
}

fn write_registry(rng: &mut Rng, reg: &Registry, world: &mut World) {
    let gbk: Vec<bool> = (0..6).map(|_| rng.chance(50)).collect();
    let mut sh = |v: &Vec<Vec<String>>| {
        let mut v = v.clone();
        rng.shuffle(&mut v);
        v
    };
    let files = [
        (
            "01-projects.csv",
            csv_file(
                &[
                    "code",
                    "name",
                    "province",
                    "construction_unit",
                    "construction_unit_code",
                    "general_contractor",
                    "general_contractor_code",
                    "contract_amount",
                    "start_date",
                    "planned_end_date",
                    "status",
                ],
                &[
                    "项目编号",
                    "项目名称",
                    "省份",
                    "建设单位",
                    "建设单位信用代码",
                    "施工总承包单位",
                    "总承包单位信用代码",
                    "合同金额",
                    "开工日期",
                    "计划竣工日期",
                    "状态",
                ],
                reg.zh[0],
                gbk[0],
                &sh(&reg.projects),
            ),
        ),
        (
            "02-accounts.csv",
            csv_file(
                &[
                    "account_no",
                    "account_name",
                    "project_code",
                    "cnaps",
                    "opened_on",
                    "currency",
                    "payer_accounts",
                ],
                &[
                    "账号",
                    "户名",
                    "项目编号",
                    "联行号",
                    "开户日期",
                    "币种",
                    "拨付账户",
                ],
                reg.zh[1],
                gbk[1],
                &sh(&reg.accounts),
            ),
        ),
        (
            "03-obligations.csv",
            csv_file(
                &[
                    "obligation_id",
                    "project_code",
                    "period",
                    "due_date",
                    "amount",
                ],
                &[
                    "拨付编号",
                    "项目编号",
                    "所属期间",
                    "应拨付日期",
                    "应拨付金额",
                ],
                reg.zh[2],
                gbk[2],
                &sh(&reg.obligations),
            ),
        ),
        (
            "04-pay-sheet.csv",
            csv_file(
                &[
                    "project_code",
                    "period",
                    "employer",
                    "worker_name",
                    "id_number",
                    "card_number",
                    "gross",
                    "net",
                    "batch_ref",
                ],
                &[
                    "项目编号",
                    "工资月份",
                    "用工单位",
                    "姓名",
                    "身份证号",
                    "银行卡号",
                    "应发工资",
                    "实发工资",
                    "批次号",
                ],
                reg.zh[3],
                gbk[3],
                &sh(&reg.pay_sheet),
            ),
        ),
        (
            "05-roster.csv",
            csv_file(
                &[
                    "project_code",
                    "worker_name",
                    "id_number",
                    "card_number",
                    "employer",
                    "entered_on",
                    "left_on",
                ],
                &[
                    "项目编号",
                    "姓名",
                    "身份证号",
                    "银行卡号",
                    "用工单位",
                    "进场日期",
                    "退场日期",
                ],
                reg.zh[4],
                gbk[4],
                &sh(&reg.roster),
            ),
        ),
        (
            "06-guarantee-requirements.csv",
            csv_file(
                &[
                    "project_code",
                    "contract_amount",
                    "contractor_credit",
                    "rate",
                    "cap",
                    "cover_from",
                    "cover_to",
                    "cash_deposit",
                ],
                &[
                    "项目编号",
                    "合同金额",
                    "信用等级",
                    "比例",
                    "上限",
                    "保障起始日期",
                    "保障截止日期",
                    "现金保证金",
                ],
                reg.zh[5],
                gbk[5],
                &sh(&reg.requirements),
            ),
        ),
    ];
    for (name, bytes) in files {
        world.files.push((format!("registry/{name}"), bytes));
    }
}
