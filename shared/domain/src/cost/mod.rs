//! Cost analysis: the cost cube every source produces, and the pure analysis over it
//! (daily series, budgets, month-end forecast, anomalies with contributors, freshness).
//!
//! Sources (FOCUS and CUR 2.0 files, Cost Explorer) live elsewhere and only build a
//! [`CostCube`]; nothing here reads files or calls AWS.

pub mod anomaly;
pub mod budget;
pub mod forecast;
pub mod freshness;
pub mod series;

#[cfg(test)]
mod fixture;

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

pub use anomaly::{Anomaly, AnomalySpec, Contributor, Direction};
pub use budget::{Basis, Breach, BudgetSpec, BudgetStatus, DailyBreach, Threshold};
pub use forecast::Forecast;
pub use freshness::Stale;
pub use series::ScopeFilter;

/// Daily cost aggregated by a fixed list of dimensions.
///
/// A cell is the cost of one day for one combination of dimension values (`key[i]` is the value
/// of `dimensions[i]`; an absent value is the empty string).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostCube {
    /// Dimension names in key order: `provider`, `billing_account`, `sub_account`, `service`,
    /// `region`, or `tag:<key>`.
    pub dimensions: Vec<String>,
    /// Currency of every amount (sources refuse to mix currencies).
    pub currency: Option<String>,
    /// Cost per (day, key).
    pub cells: BTreeMap<(NaiveDate, Vec<String>), f64>,
    /// Latest charge period end seen in the data (for freshness).
    pub latest_charge: Option<NaiveDateTime>,
    /// Rows read to build the cube.
    pub rows: u64,
}

impl CostCube {
    /// An empty cube over `dimensions`.
    pub fn new(dimensions: Vec<String>) -> Self {
        CostCube {
            dimensions,
            ..CostCube::default()
        }
    }

    /// Adds `cost` to the cell of `day` and `key`.
    pub fn add(&mut self, day: NaiveDate, key: Vec<String>, cost: f64) {
        *self.cells.entry((day, key)).or_insert(0.0) += cost;
    }

    /// Merges another cube over the same dimensions into this one.
    pub fn merge(&mut self, other: CostCube) {
        for ((day, key), cost) in other.cells {
            self.add(day, key, cost);
        }
        self.rows += other.rows;
        self.latest_charge = self.latest_charge.max(other.latest_charge);
        if self.currency.is_none() {
            self.currency = other.currency;
        }
    }

    /// Total cost of every cell.
    pub fn total(&self) -> f64 {
        self.cells.values().sum()
    }

    /// Index of a dimension in the key.
    pub fn dimension(&self, name: &str) -> Option<usize> {
        self.dimensions.iter().position(|d| d == name)
    }
}
