//! JSON helpers: numbers that may be non-finite become `null` (JSON has no NaN or Infinity).

use serde_json::Value;

pub use lowbit_core::report::num;

/// Prints one JSON object on stdout.
pub fn print(v: &Value) {
    outln!("{}", serde_json::to_string_pretty(v).expect("a JSON value serializes"));
}
