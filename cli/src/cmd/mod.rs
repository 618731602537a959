//! One module per subcommand: an `Args` struct (clap derive) and `run(&Args)`.

pub mod assemble;
pub mod backup;
pub mod bench;
pub mod convert;
pub mod demo;
pub mod diff;
pub mod dump;
pub mod gen;
pub mod inspect;
pub mod install;
pub mod rebuild;
pub mod restore;
pub mod scan;
pub mod storagemanager;
pub mod verify;
