//! The CSV reader (plain or gzip): one pass over the records with [`Splitter`], which reuses
//! one buffer, so no row allocates.

use std::io::Read;

use ops_domain::cost::CostCube;

use crate::agg::{Agg, LastValue, Source, DAY_RANGE};
use crate::fastcsv::Splitter;
use crate::layout::Layout;
use crate::text::{is_null, parse_instant, parse_number, show, DAY_SECS};
use crate::{ReadError, ReadOptions};

/// The last timestamp text seen in a column and what it parsed to: exports write hourly rows,
/// so consecutive rows share their timestamps and most are resolved by one comparison.
#[derive(Default)]
struct LastTime {
    bytes: Vec<u8>,
    value: Option<(i64, u32)>,
    valid: bool,
}

/// Reads a CSV export with a header row into a cube.
pub(crate) fn read<R: Read>(
    reader: R,
    opts: &ReadOptions,
    file: &str,
) -> Result<CostCube, ReadError> {
    let mut csv = Splitter::new(reader);
    if !csv.next_record().map_err(|m| ReadError::file(file, m))? {
        return Err(ReadError::file(file, "empty file: no header row"));
    }
    let names: Vec<String> = (0..csv.len())
        .map(|i| String::from_utf8_lossy(csv.field(i)).into_owned())
        .collect();
    let layout = Layout::resolve(opts, &names, file)?;
    csv.only_columns(&layout.columns());
    let width = names.len();

    let (mut agg, sources, mut tags) = Agg::for_layout(opts, &layout);
    let mut last: Vec<LastValue> = sources.iter().map(|_| LastValue::default()).collect();
    let mut ids = vec![0u32; sources.len()];
    let mut tag_ids = vec![0u32; tags.len()];
    let mut start_cache = LastTime::default();
    let mut end_cache = LastTime::default();

    let mut row = 0u64;
    loop {
        match csv.next_record() {
            Ok(true) => {}
            Ok(false) => break,
            Err(message) => return Err(ReadError::row(file, row + 1, message)),
        }
        row += 1;
        if csv.len() != width {
            return Err(ReadError::row(
                file,
                row,
                format!("has {} fields, the header has {width}", csv.len()),
            ));
        }
        let field = |i: usize| csv.field(i);
        let bad = |column: usize, message: String| {
            ReadError::value(file, row, layout.name(column), message)
        };

        // The day of the charge: its start's UTC date. A row without one cannot be placed.
        let start = field(layout.start);
        let start_at = time(&mut start_cache, start).map_err(|m| bad(layout.start, m))?;
        let Some((secs, _)) = start_at else {
            return Err(bad(layout.start, "missing value".into()));
        };
        let day = secs.div_euclid(DAY_SECS);
        if !DAY_RANGE.contains(&day) {
            return Err(bad(layout.start, format!("out of range: {}", show(start))));
        }
        if let Some(end) =
            time(&mut end_cache, field(layout.end)).map_err(|m| bad(layout.end, m))?
        {
            agg.end(end);
        }
        let cost_text = field(layout.cost);
        let cost = if is_null(cost_text) {
            0.0
        } else {
            parse_number(cost_text)
                .ok_or_else(|| bad(layout.cost, format!("not a number: {}", show(cost_text))))?
        };
        agg.currency(field(layout.currency))
            .map_err(|m| bad(layout.currency, m))?;
        if let Some(column) = layout.tags {
            let found = tags
                .ids(field(column), &mut agg.strings)
                .map_err(|m| bad(column, m))?;
            tag_ids.copy_from_slice(found);
        }
        for ((source, id), cache) in sources.iter().zip(ids.iter_mut()).zip(last.iter_mut()) {
            *id = match *source {
                Source::Const(id) => id,
                Source::Tag(slot) => tag_ids[slot],
                Source::Column(i) => cache
                    .id(field(i), &mut agg.strings)
                    .map_err(|m| bad(i, m))?,
                Source::Fallback(a, b) => {
                    let (i, value) = match field(a) {
                        v if is_null(v) => (b, field(b)),
                        v => (a, v),
                    };
                    cache.id(value, &mut agg.strings).map_err(|m| bad(i, m))?
                }
            };
        }
        let group = agg.groups.leaf(&ids);
        agg.cells.add(day, group, cost);
    }
    agg.rows = row;
    agg.finish(file)
}

/// Parses a timestamp field through its one-entry cache: `Ok(None)` for a null, `Err` with a
/// message for a malformed value.
#[inline]
fn time(cache: &mut LastTime, value: &[u8]) -> Result<Option<(i64, u32)>, String> {
    if cache.valid && cache.bytes == value {
        return Ok(cache.value);
    }
    let parsed = if is_null(value) {
        None
    } else {
        Some(parse_instant(value).ok_or_else(|| format!("not a timestamp: {}", show(value)))?)
    };
    cache.bytes.clear();
    cache.bytes.extend_from_slice(value);
    cache.value = parsed;
    cache.valid = true;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use chrono::NaiveDate;

    use crate::{
        read_csv, read_csv_gz, read_file, CostCube, Format, Metric, ReadError, ReadOptions,
    };

    const FOCUS_HEADER: &str =
        "ChargePeriodStart,ChargePeriodEnd,BillingCurrency,BilledCost,EffectiveCost,ProviderName,\
         ServiceName,RegionId,ChargeFrequency,Tags\n";

    fn focus(dims: &[&str]) -> ReadOptions {
        ReadOptions {
            format: Format::Focus,
            metric: Metric::BilledCost,
            dimensions: dims.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn read(body: &str, dims: &[&str]) -> Result<CostCube, ReadError> {
        read_csv(
            format!("{FOCUS_HEADER}{body}").as_bytes(),
            &focus(dims),
            "t.csv",
        )
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 9, d).expect("date")
    }

    fn cell(cube: &CostCube, d: u32, key: &[&str]) -> f64 {
        cube.cells[&(
            day(d),
            key.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        )]
    }

    #[test]
    fn sample_quirks_are_read() {
        // Space-separated and ISO timestamps, NULL cost and region, quoted numbers, both
        // spellings of Usage-Based, tags as JSON text with doubled quotes, tags NULL.
        let cube = read(
            "2024-09-18 22:00:00,2024-09-18 23:00:00,USD,\"1.25\",1,AWS,EC2,us-east-1,Usage-Based,\"{\"\"team\"\": \"\"web\"\"}\"\n\
             2024-09-18T23:00:00Z,2024-09-19T00:00:00Z,USD,NULL,NULL,AWS,EC2,NULL,Usage-based,NULL\n\
             2024-09-19 00:00:00,NULL,USD,0.75,0.5,AWS,S3,us-east-1,One-Time,{}\n",
            &["service", "region", "tag:team"],
        )
        .expect("reads");
        assert_eq!(cube.rows, 3);
        assert_eq!(cell(&cube, 18, &["EC2", "us-east-1", "web"]), 1.25);
        assert_eq!(cell(&cube, 18, &["EC2", "", ""]), 0.0);
        assert_eq!(cell(&cube, 19, &["S3", "us-east-1", ""]), 0.75);
        assert_eq!(cube.total(), 2.0);
        assert_eq!(cube.currency.as_deref(), Some("USD"));
        let latest = day(19).and_hms_opt(0, 0, 0).expect("time");
        assert_eq!(cube.latest_charge, Some(latest), "a NULL end is skipped");
    }

    #[test]
    fn header_only_gives_an_empty_cube_and_a_bom_is_ignored() {
        let cube = read_csv(
            format!("\u{feff}{FOCUS_HEADER}").as_bytes(),
            &focus(&[]),
            "t.csv",
        )
        .expect("reads");
        assert_eq!((cube.rows, cube.cells.len(), cube.currency), (0, 0, None));
    }

    #[test]
    fn an_offset_moves_the_day_to_utc() {
        let cube = read(
            "2024-09-19T01:00:00+02:00,2024-09-19T02:00:00+02:00,USD,1,1,AWS,EC2,x,u,NULL\n",
            &[],
        )
        .expect("reads");
        assert!(cube.cells.contains_key(&(day(18), vec![])));
    }

    fn err(body: &str, dims: &[&str]) -> String {
        read(body, dims).expect_err("must fail").to_string()
    }

    const OK: &str = "2024-09-18 22:00:00,2024-09-18 23:00:00,USD,1,1,AWS,EC2,us-east-1,u,NULL\n";

    #[test]
    fn malformed_values_name_row_and_column() {
        let cases = [
            (
                "2024-09-18 22:00:00,2024-09-18 23:00:00,USD,1.2.3,1,AWS,EC2,x,u,NULL\n",
                "t.csv: row 2: column BilledCost: not a number: \"1.2.3\"",
            ),
            (
                "2024-09-18 22:00:00,2024-09-18 23:00:00,USD,NaN,1,AWS,EC2,x,u,NULL\n",
                "t.csv: row 2: column BilledCost: not a number: \"NaN\"",
            ),
            (
                "2024-09-31 22:00:00,2024-09-18 23:00:00,USD,1,1,AWS,EC2,x,u,NULL\n",
                "t.csv: row 2: column ChargePeriodStart: not a timestamp: \"2024-09-31 22:00:00\"",
            ),
            (
                "NULL,2024-09-18 23:00:00,USD,1,1,AWS,EC2,x,u,NULL\n",
                "t.csv: row 2: column ChargePeriodStart: missing value",
            ),
            (
                "2024-09-18 22:00:00,tomorrow,USD,1,1,AWS,EC2,x,u,NULL\n",
                "t.csv: row 2: column ChargePeriodEnd: not a timestamp: \"tomorrow\"",
            ),
            (
                "2024-09-18 22:00:00,2024-09-18 23:00:00,EUR,1,1,AWS,EC2,x,u,NULL\n",
                "t.csv: row 2: column BillingCurrency: currency \"EUR\" differs from \"USD\"",
            ),
            (
                "2024-09-18 22:00:00,2024-09-18 23:00:00,USD,1,1,AWS,EC2\n",
                "t.csv: row 2: has 7 fields, the header has 10",
            ),
            (
                "2024-09-18 22:00:00,2024-09-18 23:00:00,USD,1,1,AWS,EC2,x,u,{team: web}\n",
                "t.csv: row 2: column Tags: not a JSON object of tags",
            ),
        ];
        for (bad, want) in cases {
            let got = err(&format!("{OK}{bad}"), &["tag:team"]);
            assert!(got.starts_with(want), "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn invalid_utf8_in_a_dimension_is_an_error() {
        let mut body = format!("{FOCUS_HEADER}{OK}").into_bytes();
        body.extend_from_slice(
            b"2024-09-18 22:00:00,2024-09-18 23:00:00,USD,1,1,AWS,EC\xff2,x,u,NULL\n",
        );
        let got = read_csv(&body[..], &focus(&["service"]), "t.csv").expect_err("fails");
        assert_eq!(
            (got.row, got.column.as_deref()),
            (Some(2), Some("ServiceName"))
        );
        assert!(got.message.contains("UTF-8"), "{got}");
    }

    #[test]
    fn missing_columns_are_named() {
        let body = "ChargePeriodStart,BillingCurrency,BilledCost\n";
        let got = read_csv(body.as_bytes(), &focus(&[]), "t.csv").expect_err("fails");
        assert_eq!(
            got.to_string(),
            "t.csv: column ChargePeriodEnd: missing column (needed for the freshness of the data)"
        );
        let got = err(OK, &["sub_account"]);
        assert_eq!(
            got,
            "t.csv: column SubAccountId: missing column (needed for dimension sub_account)"
        );
        let got = read_csv(&b""[..], &focus(&[]), "t.csv").expect_err("fails");
        assert_eq!(got.to_string(), "t.csv: empty file: no header row");
    }

    const CUR_HEADER: &str = "line_item_usage_start_date,line_item_usage_end_date,line_item_currency_code,\
        line_item_unblended_cost,line_item_net_unblended_cost,bill_payer_account_id,\
        line_item_usage_account_id,product_servicecode,line_item_product_code,product_region_code,resource_tags\n";

    #[test]
    fn cur_csv_falls_back_to_product_code_and_reads_user_tags() {
        let body = format!(
            "{CUR_HEADER}\
             2024-09-18T22:00:00.000Z,2024-09-18T23:00:00.000Z,USD,2,1.5,111,222,AmazonEC2,AmazonEC2,us-east-1,\"{{\"\"user_team\"\":\"\"web\"\"}}\"\n\
             2024-09-18T22:00:00.000Z,2024-09-18T23:00:00.000Z,USD,3,3,111,222,,AWSSupport,,\n"
        );
        let opts = ReadOptions {
            format: Format::Cur2,
            metric: Metric::NetUnblendedCost,
            dimensions: [
                "provider",
                "billing_account",
                "sub_account",
                "service",
                "region",
                "tag:team",
            ]
            .map(String::from)
            .to_vec(),
        };
        let cube = read_csv(body.as_bytes(), &opts, "cur.csv").expect("reads");
        assert_eq!(
            cell(
                &cube,
                18,
                &["AWS", "111", "222", "AmazonEC2", "us-east-1", "web"]
            ),
            1.5
        );
        assert_eq!(
            cell(&cube, 18, &["AWS", "111", "222", "AWSSupport", "", ""]),
            3.0
        );
    }

    #[test]
    fn gzip_and_dispatch_by_name() {
        let text = format!("{FOCUS_HEADER}{OK}");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let want = read(OK, &["service"]).expect("plain");
        let o = focus(&["service"]);
        assert_eq!(read_csv_gz(&gz[..], &o, "t.csv.gz").expect("gz"), want);
        assert_eq!(
            read_file("a/t.CSV.GZ", gz.clone().into(), &o).expect("by name"),
            want
        );
        assert_eq!(read_file("a/t", gz.into(), &o).expect("by magic"), want);
        assert_eq!(
            read_file("a/t.csv", text.clone().into(), &o).expect("csv"),
            want
        );
        let got = read_file("a/t.json", text.into(), &o).expect_err("unknown");
        assert!(
            got.to_string().starts_with("a/t.json: unknown file type"),
            "{got}"
        );
        let got =
            read_file("a/t.csv.gz", b"not gzip at all".to_vec().into(), &o).expect_err("corrupt");
        assert!(
            got.to_string()
                .starts_with("a/t.csv.gz: cannot read the file"),
            "{got}"
        );
    }

    #[test]
    fn two_gzip_members_are_one_stream() {
        let mut both = Vec::new();
        for part in [FOCUS_HEADER.to_string(), OK.to_string()] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part.as_bytes()).expect("gzip");
            both.extend(gz.finish().expect("gzip"));
        }
        let cube = read_csv_gz(&both[..], &focus(&[]), "t.csv.gz").expect("reads");
        assert_eq!(cube.rows, 1);
    }
}
