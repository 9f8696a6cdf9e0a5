//! Any bytes as a pickle (the part of a PyTorch checkpoint the whole-file target rarely reaches): the
//! machine must refuse or finish, never recurse without bound or copy shared objects.
#![no_main]

use lowbit_core::readers::{Limits, pickle};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pickle::load_with(data, &Limits::page());
});
