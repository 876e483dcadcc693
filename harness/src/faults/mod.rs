//! Fault injection: the faults a scenario (`[[faults]]`) or the command line
//! (`--fault`) asks for (`spec`), and the code that injects them into the run's Redis,
//! Postgres, network and ledger writer while the load goes on (`injector`). Every fault
//! becomes an op of kind `fault` in the history, so the checks and the report's
//! timeline see when it happened. A strategy that lacks what a fault acts on takes
//! its counterpart, or none (`counterpart`).

mod counterpart;
mod injector;
mod spec;

pub use counterpart::{Applied, PlannedFault, plan};
pub use injector::{
    EngineFaultHooks, FaultError, FaultRecord, FaultTargets, LEDGER_WRITER_APPLICATION_NAME,
    inject, run_schedule,
};
pub use spec::{
    FAULT_DURATION_DEFAULT, FAULT_DURATION_MAX, FAULTS_PER_RUN_MAX, FaultAction, FaultFile,
    FaultKind, FaultSpec, NetworkTarget, Trigger,
};
