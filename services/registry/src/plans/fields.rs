//! The checks of a business plan's editable fields.

use ocop_kit::date;
use ocop_kit::error::Violations;
use ocop_proto::registry::v1::BusinessPlan;

use super::store::Row;

impl Row {
    /// Copies and checks the editable fields named by `mask` (all when `None`).
    pub(super) fn apply(&mut self, p: &BusinessPlan, mask: Option<&[String]>, v: &mut Violations) {
        let wants = |f: &str| mask.is_none_or(|m| m.iter().any(|x| x == f));
        if wants("title") {
            self.title = p.title.trim().to_owned();
            if !(1..=300).contains(&self.title.chars().count()) {
                v.push("business_plan.title", "required, 1 to 300 characters");
            }
        }
        if wants("summary") {
            self.summary = p.summary.trim().to_owned();
            if self.summary.chars().count() > 20_000 {
                v.push("business_plan.summary", "at most 20,000 characters");
            }
        }
        if wants("investment_vnd") {
            self.investment_vnd = p.investment_vnd;
            if p.investment_vnd < 0 {
                v.push("business_plan.investment_vnd", "must not be negative");
            }
        }
        for (field, src, dst) in [
            ("start_date", &p.start_date, &mut self.start_date),
            ("end_date", &p.end_date, &mut self.end_date),
        ] {
            if wants(field) {
                *dst = match src {
                    Some(d) => date::from_proto(&format!("business_plan.{field}"), d)
                        .map_err(|e| v.push(format!("business_plan.{field}"), e.violations()[0].description.clone()))
                        .ok(),
                    None => None,
                };
            }
        }
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && end < start
        {
            v.push("business_plan.end_date", format!("{end} is before start_date {start}"));
        }
    }
}
