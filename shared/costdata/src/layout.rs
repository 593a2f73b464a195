//! Which columns each export format needs, and where each requested dimension comes from.
//!
//! Both readers (CSV and Parquet) resolve the same [`Layout`] against the column names of the
//! file, so the two formats agree on names, fallbacks and error messages by construction.

use crate::{Format, Metric, ReadError, ReadOptions};

/// Column names of one export format.
struct Names {
    start: &'static str,
    end: &'static str,
    currency: &'static str,
    tags: &'static str,
}

const FOCUS: Names = Names {
    start: "ChargePeriodStart",
    end: "ChargePeriodEnd",
    currency: "BillingCurrency",
    tags: "Tags",
};

const CUR2: Names = Names {
    start: "line_item_usage_start_date",
    end: "line_item_usage_end_date",
    currency: "line_item_currency_code",
    tags: "resource_tags",
};

/// The dimensions a cube can be keyed by, as written in [`ReadOptions::dimensions`].
pub const DIMENSIONS: &str = "provider, billing_account, sub_account, service, region or tag:<key>";

/// Where one dimension's value comes from, resolved against a file's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DimSource {
    /// The same value on every row (CUR has no provider column: it is always AWS).
    Const(&'static str),
    /// The value of a column.
    Column(usize),
    /// The first column, or the second where the first is null or empty (CUR's service:
    /// `product_servicecode`, else `line_item_product_code`).
    Fallback(usize, usize),
    /// A key of the tags column. The keys accepted, best first: `team` for `tag:team`, then the
    /// prefixed forms exports use for user-defined tags (`user_team` in CUR 2.0, `user:team`).
    Tag(Vec<Vec<u8>>),
}

/// The columns a file must have for the requested cube, by index into the file's columns.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub start: usize,
    pub end: usize,
    pub currency: usize,
    pub cost: usize,
    /// The tags column, present only when a `tag:` dimension was requested.
    pub tags: Option<usize>,
    pub dims: Vec<DimSource>,
    /// The file's column names, for error messages.
    pub names: Vec<String>,
}

impl Layout {
    /// Resolves the layout of `opts` against the column names of `file`.
    pub(crate) fn resolve(
        opts: &ReadOptions,
        names: &[String],
        file: &str,
    ) -> Result<Layout, ReadError> {
        let fmt = match opts.format {
            Format::Focus => &FOCUS,
            Format::Cur2 => &CUR2,
        };
        let cost_name = opts.metric.column(opts.format).ok_or_else(|| {
            ReadError::file(
                file,
                format!(
                    "metric {:?} is not in {} exports (use {})",
                    opts.metric,
                    opts.format.name(),
                    match opts.format {
                        Format::Focus => "EffectiveCost or BilledCost",
                        Format::Cur2 => "UnblendedCost or NetUnblendedCost",
                    }
                ),
            )
        })?;
        let need = |name: &str, why: &str| {
            find(names, name).ok_or_else(|| {
                ReadError::column(file, name, format!("missing column (needed for {why})"))
            })
        };
        let start = need(fmt.start, "the day of each charge")?;
        let end = need(fmt.end, "the freshness of the data")?;
        let currency = need(fmt.currency, "the currency")?;
        let cost = need(cost_name, "the cost")?;
        let mut tags = None;
        let mut dims = Vec::with_capacity(opts.dimensions.len());
        for dim in &opts.dimensions {
            let why = format!("dimension {dim}");
            let source = match (dim.as_str(), opts.format) {
                // FOCUS 1.2 deprecates ProviderName in favour of ServiceProviderName.
                ("provider", Format::Focus) => DimSource::Column(
                    match find(names, "ProviderName").or_else(|| find(names, "ServiceProviderName"))
                    {
                        Some(i) => i,
                        None => need("ProviderName", &why)?,
                    },
                ),
                ("provider", Format::Cur2) => DimSource::Const("AWS"),
                ("billing_account", Format::Focus) => {
                    DimSource::Column(need("BillingAccountId", &why)?)
                }
                ("billing_account", Format::Cur2) => {
                    DimSource::Column(need("bill_payer_account_id", &why)?)
                }
                ("sub_account", Format::Focus) => DimSource::Column(need("SubAccountId", &why)?),
                ("sub_account", Format::Cur2) => {
                    DimSource::Column(need("line_item_usage_account_id", &why)?)
                }
                ("service", Format::Focus) => DimSource::Column(need("ServiceName", &why)?),
                ("service", Format::Cur2) => {
                    match (
                        find(names, "product_servicecode"),
                        find(names, "line_item_product_code"),
                    ) {
                        (Some(p), Some(f)) => DimSource::Fallback(p, f),
                        (Some(p), None) => DimSource::Column(p),
                        (None, Some(f)) => DimSource::Column(f),
                        (None, None) => {
                            return Err(ReadError::column(
                                file,
                                "product_servicecode",
                                format!(
                                    "missing column (needed for {why}; line_item_product_code \
                                     would also do)"
                                ),
                            ))
                        }
                    }
                }
                ("region", Format::Focus) => DimSource::Column(need("RegionId", &why)?),
                ("region", Format::Cur2) => DimSource::Column(need("product_region_code", &why)?),
                (other, _) => match other.strip_prefix("tag:") {
                    Some(key) if !key.is_empty() => {
                        tags = Some(need(fmt.tags, &why)?);
                        DimSource::Tag(vec![
                            key.as_bytes().to_vec(),
                            format!("user_{key}").into_bytes(),
                            format!("user:{key}").into_bytes(),
                        ])
                    }
                    _ => {
                        return Err(ReadError::file(
                            file,
                            format!("unknown dimension {other:?}, expected {DIMENSIONS}"),
                        ))
                    }
                },
            };
            dims.push(source);
        }
        Ok(Layout {
            start,
            end,
            currency,
            cost,
            tags,
            dims,
            names: names.to_vec(),
        })
    }

    /// The name of column `index`, for error messages.
    pub(crate) fn name(&self, index: usize) -> &str {
        self.names.get(index).map(String::as_str).unwrap_or("?")
    }

    /// Every column the layout reads, once each, in file order (the Parquet projection).
    pub(crate) fn columns(&self) -> Vec<usize> {
        let mut out = vec![self.start, self.end, self.currency, self.cost];
        out.extend(self.tags);
        for dim in &self.dims {
            match dim {
                DimSource::Column(i) => out.push(*i),
                DimSource::Fallback(a, b) => out.extend([*a, *b]),
                DimSource::Const(_) | DimSource::Tag(_) => {}
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The columns that hold dimension text (worth reading dictionary-encoded from Parquet).
    pub(crate) fn text_columns(&self) -> Vec<usize> {
        let mut out = vec![self.currency];
        for dim in &self.dims {
            match dim {
                DimSource::Column(i) => out.push(*i),
                DimSource::Fallback(a, b) => out.extend([*a, *b]),
                DimSource::Const(_) | DimSource::Tag(_) => {}
            }
        }
        out
    }
}

/// Finds a column by name: exactly, else ignoring ASCII case (exports differ in case between
/// FOCUS versions and tools), ignoring surrounding whitespace and a byte-order mark.
fn find(names: &[String], name: &str) -> Option<usize> {
    let clean = |n: &str| n.trim_start_matches('\u{feff}').trim().to_string();
    names.iter().position(|n| clean(n) == name).or_else(|| {
        names
            .iter()
            .position(|n| clean(n).eq_ignore_ascii_case(name))
    })
}

impl Metric {
    /// The cost column of this metric in `format`, `None` where the format has no such column.
    pub fn column(self, format: Format) -> Option<&'static str> {
        match (format, self) {
            (Format::Focus, Metric::EffectiveCost) => Some("EffectiveCost"),
            (Format::Focus, Metric::BilledCost) => Some("BilledCost"),
            (Format::Cur2, Metric::UnblendedCost) => Some("line_item_unblended_cost"),
            (Format::Cur2, Metric::NetUnblendedCost) => Some("line_item_net_unblended_cost"),
            _ => None,
        }
    }
}

impl Format {
    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Focus => "FOCUS",
            Format::Cur2 => "CUR 2.0",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn opts(format: Format, metric: Metric, dims: &[&str]) -> ReadOptions {
        ReadOptions {
            format,
            metric,
            dimensions: names(dims),
        }
    }

    const CUR_COLS: &[&str] = &[
        "line_item_usage_start_date",
        "line_item_usage_end_date",
        "line_item_currency_code",
        "line_item_unblended_cost",
        "line_item_product_code",
    ];

    #[test]
    fn cur_service_falls_back_to_product_code() {
        let o = opts(
            Format::Cur2,
            Metric::UnblendedCost,
            &["service", "provider"],
        );
        let layout = Layout::resolve(&o, &names(CUR_COLS), "f").expect("layout");
        assert_eq!(
            layout.dims,
            vec![DimSource::Column(4), DimSource::Const("AWS")]
        );
    }

    #[test]
    fn metric_must_exist_in_format() {
        let o = opts(Format::Cur2, Metric::BilledCost, &[]);
        let err = Layout::resolve(&o, &names(CUR_COLS), "f").expect_err("wrong metric");
        assert!(
            err.message.contains("UnblendedCost or NetUnblendedCost"),
            "{err}"
        );
    }

    #[test]
    fn unknown_dimension_is_named() {
        for bad in ["team", "tag:"] {
            let o = opts(Format::Cur2, Metric::UnblendedCost, &[bad]);
            let err = Layout::resolve(&o, &names(CUR_COLS), "f").expect_err("unknown");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn columns_match_ignoring_case_and_bom() {
        let cols = names(&[
            "\u{feff}chargeperiodstart",
            "ChargePeriodEnd",
            "BillingCurrency",
            "BILLEDCOST",
        ]);
        let o = opts(Format::Focus, Metric::BilledCost, &[]);
        let layout = Layout::resolve(&o, &cols, "f").expect("layout");
        assert_eq!((layout.start, layout.cost), (0, 3));
    }
}
