//! Tables to CSV and Parquet, built with polars: a column of only numbers (or nulls) becomes Float64,
//! anything else Utf8.

use polars::prelude::*;
use serde_json::Value;

fn frame(columns: &[&str], rows: &[Vec<Value>]) -> PolarsResult<DataFrame> {
    let cols: Vec<Column> = columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let vals: Vec<&Value> = rows.iter().map(|r| r.get(i).unwrap_or(&Value::Null)).collect();
            if vals.iter().all(|v| v.is_number() || v.is_null()) {
                let v: Vec<Option<f64>> = vals.iter().map(|v| v.as_f64()).collect();
                Column::new((*name).into(), v)
            } else {
                let v: Vec<Option<String>> = vals
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Null => None,
                        other => Some(other.to_string()),
                    })
                    .collect();
                Column::new((*name).into(), v)
            }
        })
        .collect();
    DataFrame::new_infer_height(cols)
}

/// CSV with a header row.
pub fn csv(columns: &[&str], rows: &[Vec<Value>]) -> PolarsResult<Vec<u8>> {
    let mut df = frame(columns, rows)?;
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).include_header(true).finish(&mut df)?;
    Ok(buf)
}

/// A Parquet file.
pub fn parquet(columns: &[&str], rows: &[Vec<Value>]) -> PolarsResult<Vec<u8>> {
    let mut df = frame(columns, rows)?;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df)?;
    Ok(buf)
}
