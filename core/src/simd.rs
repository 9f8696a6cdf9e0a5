//! Runtime dispatch of hot loops to AVX2 code on x86-64 CPUs that have it.
//!
//! The kernels are written once as plain scalar Rust that the compiler vectorises; [`dispatch_avx2!`]
//! compiles the same body a second time with AVX2 enabled and picks it at run time, so results are
//! bit-identical (no FMA contraction: Rust never fuses a·b + c on its own) and the binary still runs on any
//! x86-64. On other targets (wasm32, aarch64) only the portable version exists.

/// Defines a function whose body is compiled twice (baseline and AVX2) and dispatched at run time.
/// Functions the body calls must be `#[inline(always)]` to benefit.
macro_rules! dispatch_avx2 {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn portable($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) -> $ret {
                    portable($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked on the line above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            portable($($arg),*)
        }
    };
}

pub(crate) use dispatch_avx2;
