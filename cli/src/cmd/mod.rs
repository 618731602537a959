//! One module per subcommand: an `Args` struct (clap derive) and `run(&Args)`.

pub mod bench;
pub mod convert;
pub mod demo;
pub mod diff;
pub mod dump;
pub mod gen;
pub mod inspect;
pub mod rebuild;
pub mod verify;
