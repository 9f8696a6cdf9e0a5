//! End-to-end tests of the `lowbit` binary on the real checkpoints of DATA.md: what a user types, what they
//! get on stdout, stderr and in the exit code. One binary, one module per command.

mod bad_input;
mod dashboard;
mod diff;
mod eval;
mod hostile;
mod http;
mod info;
mod jobs;
mod openapi;
mod quant;
mod serve;
mod server;
mod sparsity;
mod train;
mod util;
mod video;
mod webdriver;
