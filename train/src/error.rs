//! What can stop a training run, each with a message that names the problem.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// A data file is missing or not what it should be.
    #[error("data: {0}")]
    Data(String),
    /// An option is out of range or does not fit the model.
    #[error("{0}")]
    Param(String),
    /// The loss stopped being a finite number (the learning rate is too high, most often).
    #[error(
        "training diverged at step {step}: the loss is {loss}; lower the learning rate (the last good state is kept)"
    )]
    Diverged { step: usize, loss: f32 },
    /// Stopped from outside (a cancelled job).
    #[error("cancelled at step {0}")]
    Cancelled(usize),
    #[error(transparent)]
    Core(#[from] lowbit_core::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
