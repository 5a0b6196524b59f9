//! `reconciler::Config` read the way the daemon reads it: through the `config` crate, from a
//! TOML file and `WAGEGATE__...` environment variables (which `try_parsing` turns into numbers).

use reconciler::Config;
use schemas::{FindingCode, Money, Severity};

#[derive(serde::Deserialize)]
struct Settings {
    #[serde(default)]
    reconciler: Config,
}

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, String> {
    let vars: std::collections::HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let raw = config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("WAGEGATE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars)),
        )
        .build()
        .map_err(|e| e.to_string())?;
    raw.try_deserialize::<Settings>()
        .map(|s| s.reconciler)
        .map_err(|e| e.to_string())
}

#[test]
fn file_values_and_code_keys_survive_the_config_crate() {
    let c = load(
        r#"
        [reconciler.severity.fixed]
        NON_WAGE_DEBIT = "orange"
        [reconciler.guarantee.provinces.hunan]
        rate = "0.025"
        cap = "4000000.00"
        [reconciler.abnormal_pay]
        floor_monthly = "2100.50"
        "#,
        &[],
    )
    .unwrap();
    assert_eq!(
        c.severity.fixed.get(&FindingCode::NonWageDebit),
        Some(&Severity::Orange)
    );
    assert_eq!(
        c.guarantee_rule(schemas::Province::Hunan).cap,
        Some(Money::from_fen(400_000_000))
    );
    assert_eq!(
        c.guarantee_rule(schemas::Province::Fujian).cap,
        Some(Money::from_fen(500_000_000))
    );
    assert_eq!(c.abnormal_pay.floor_monthly, Money::from_fen(210_050));
    c.validate().unwrap();
}

#[test]
fn environment_numbers_are_read_exactly() {
    let c = load(
        "",
        &[
            ("WAGEGATE__RECONCILER__LABOR_COST__GRACE_WORKING_DAYS", "5"),
            (
                "WAGEGATE__RECONCILER__ABNORMAL_PAY__CEILING_MONTHLY",
                "60000.10",
            ),
            ("WAGEGATE__RECONCILER__SEVERITY__RED_AMOUNT", "2000000"),
            ("WAGEGATE__RECONCILER__GUARANTEE__DEFAULT_RATE", "0.02"),
        ],
    )
    .unwrap();
    assert_eq!(c.labor_cost.grace_working_days, 5);
    assert_eq!(c.abnormal_pay.ceiling_monthly, Money::from_fen(6_000_010));
    assert_eq!(c.severity.red_amount, Money::from_fen(200_000_000));
    assert_eq!(c.guarantee.default_rate, rust_decimal::Decimal::new(2, 2));
    c.validate().unwrap();
}
