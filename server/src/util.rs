//! Small helpers shared by the server's modules.

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// An unguessable identifier: 128 random bits from the OS, as 32 hex digits.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS provides randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}
