//! JSON helpers: numbers that may be non-finite become `null` (JSON has no NaN or Infinity).

use serde_json::Value;

/// A finite number, or null.
pub fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Prints one JSON object on stdout.
pub fn print(v: &Value) {
    outln!("{}", serde_json::to_string_pretty(v).expect("a JSON value serializes"));
}
