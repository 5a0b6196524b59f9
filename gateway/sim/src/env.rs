//! What every simulated project shares: the as-of date and the months around it, the
//! reconciler's default configuration and calendar.

use chrono::NaiveDate;
use reconciler::{Calendar, Config};
use schemas::Period;

/// What every project shares: the dates the world hangs on, the reconciler's defaults and
/// calendar (the baseline is tuned to them).
pub struct Env {
    pub as_of: NaiveDate,
    /// The first day with a statement (the first day of the month three months back).
    pub first_day: NaiveDate,
    /// The last day with a statement (the day before the as-of date).
    pub last_day: NaiveDate,
    /// Pay-sheet months paid in full in the baseline: three and two months back.
    pub pa: Period,
    pub pb: Period,
    /// Last month: its pay sheet only exists for the funding-gap plant.
    pub pc: Period,
    pub config: Config,
    pub calendar: Calendar,
}

impl Env {
    pub fn new(as_of: NaiveDate) -> anyhow::Result<Env> {
        let m = Period::of(as_of);
        let pc = m.prev();
        let pb = pc.prev();
        let pa = pb.prev();
        let env = Env {
            as_of,
            first_day: pa.first_day(),
            last_day: as_of
                .pred_opt()
                .ok_or_else(|| anyhow::anyhow!("as-of date out of range"))?,
            pa,
            pb,
            pc,
            config: Config::default(),
            calendar: Calendar::china(),
        };
        anyhow::ensure!(
            reconciler::pay_deadline(pb, &env.config.wages) < as_of,
            "the default pay deadline of {pb} is not before {as_of}"
        );
        Ok(env)
    }

    /// Every filed pay sheet whose deadline has not passed is checked (DOMAIN.md §4), so
    /// last month's sheet, due at the end of the as-of month, always can be.
    pub fn funding_gap_possible(&self) -> bool {
        self.as_of <= reconciler::pay_deadline(self.pc, &self.config.wages)
    }

    /// Obligation months (paid in on the 9th, due on the 10th of the month after).
    pub(crate) fn obligation_periods(&self) -> [Period; 3] {
        [self.pa.prev(), self.pa, self.pb]
    }
}
