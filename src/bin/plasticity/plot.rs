//! `plasticity plot`: redraw a run's or a comparison's figures and report from its saved files.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use plasticity::report::{self, RunRecord};

/// Options of `plasticity plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Run directories (holding `metrics.jsonl`) or comparison directories (holding runs).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
}

pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    for dir in &args.dirs {
        let title = dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
        let runs = if dir.join("metrics.jsonl").is_file() {
            vec![RunRecord::read(dir)?]
        } else {
            RunRecord::read_all(dir)?
        };
        if runs.is_empty() {
            bail!(
                "{}: no metrics.jsonl in it or in its subdirectories",
                dir.display()
            );
        }
        let path = report::write(dir, &title, &runs)?;
        println!("figures and report written: {}", path.display());
    }
    Ok(())
}
