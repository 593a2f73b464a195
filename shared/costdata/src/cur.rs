//! CUR 2.0 Data Exports manifests: which data files make up a billing period's export.
//!
//! AWS Data Exports delivers each billing period of a CUR 2.0 export as one or more data files
//! under `s3://<bucket>/<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/` and, once all of them are
//! in place, a manifest at
//! `s3://<bucket>/<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`.
//! The manifest is rewritten at every refresh, so it (not a listing of the data folder, which
//! may hold files of an older or an unfinished refresh) says which files to read.
//!
//! The manifest is a JSON object. The fields used here and in [`crate::generate::cur_manifest`]:
//!
//! ```json
//! {
//!   "executionId": "…",
//!   "billingPeriod": { "start": "2024-09-01T00:00:00.000Z", "end": "2024-10-01T00:00:00.000Z" },
//!   "dataFiles": [
//!     "s3://bucket/prefix/export/data/BILLING_PERIOD=2024-09/export-00001.snappy.parquet"
//!   ],
//!   "columns": [ { "name": "line_item_unblended_cost", "type": "double" } ]
//! }
//! ```
//!
//! Only `dataFiles` (full `s3://` URIs) is relied on; other fields are ignored, so fields AWS
//! adds later do no harm.

use serde_json::Value;

use crate::ReadError;

/// The name manifest errors carry (the parser is given the text, not the key).
const MANIFEST: &str = "Manifest.json";

/// The data files of a CUR 2.0 Data Exports manifest, as the `s3://` URIs it lists, in order.
pub fn manifest_data_files(manifest_json: &str) -> Result<Vec<String>, ReadError> {
    let value: Value = serde_json::from_str(manifest_json)
        .map_err(|e| ReadError::file(MANIFEST, format!("not JSON: {e}")))?;
    let files = value
        .get("dataFiles")
        .ok_or_else(|| ReadError::column(MANIFEST, "dataFiles", "missing field"))?
        .as_array()
        .ok_or_else(|| ReadError::column(MANIFEST, "dataFiles", "not an array"))?;
    files
        .iter()
        .enumerate()
        .map(|(i, file)| match file.as_str() {
            Some(uri) if s3_bucket_key(uri).is_some() => Ok(uri.to_string()),
            _ => Err(ReadError::column(
                MANIFEST,
                "dataFiles",
                format!("entry {i} is not an s3:// URI of an object: {file}"),
            )),
        })
        .collect()
}

/// Splits `s3://bucket/key` into bucket and key; `None` if it is not such a URI.
pub fn s3_bucket_key(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_data_files() {
        let manifest = r#"{
            "executionId": "e-1",
            "billingPeriod": {"start": "2024-09-01T00:00:00.000Z", "end": "2024-10-01T00:00:00.000Z"},
            "dataFiles": [
                "s3://b/p/x/data/BILLING_PERIOD=2024-09/x-00001.snappy.parquet",
                "s3://b/p/x/data/BILLING_PERIOD=2024-09/x-00002.snappy.parquet"
            ],
            "columns": [{"name": "line_item_unblended_cost", "type": "double"}],
            "somethingNew": true
        }"#;
        let files = manifest_data_files(manifest).expect("manifest");
        assert_eq!(files.len(), 2);
        assert_eq!(
            s3_bucket_key(&files[1]),
            Some((
                "b",
                "p/x/data/BILLING_PERIOD=2024-09/x-00002.snappy.parquet"
            ))
        );
    }

    #[test]
    fn rejects_bad_manifests() {
        for (text, part) in [
            ("{", "not JSON"),
            ("{}", "column dataFiles: missing field"),
            (r#"{"dataFiles": "s3://b/k"}"#, "not an array"),
            (r#"{"dataFiles": ["s3://b/k", "/local/k"]}"#, "entry 1"),
            (r#"{"dataFiles": [3]}"#, "entry 0"),
        ] {
            let err = manifest_data_files(text).expect_err(text);
            assert!(err.to_string().contains(part), "{err}");
        }
        assert_eq!(manifest_data_files(r#"{"dataFiles": []}"#), Ok(vec![]));
    }
}
