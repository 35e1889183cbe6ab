//! `plasticity plot`: redraw a run's or a comparison's figures from its saved metrics.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use plasticity::experiment::compare::{read_metrics, write_plots};

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
        let histories = if dir.join("metrics.jsonl").is_file() {
            vec![(title.clone(), read_metrics(dir)?)]
        } else {
            let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.join("metrics.jsonl").is_file())
                .collect();
            runs.sort();
            runs.iter()
                .map(|run| {
                    let name = run.file_name().unwrap_or_default().to_string_lossy().into();
                    Ok((name, read_metrics(run)?))
                })
                .collect::<plasticity::Result<Vec<_>>>()?
        };
        if histories.is_empty() {
            bail!(
                "{}: no metrics.jsonl in it or in its subdirectories",
                dir.display()
            );
        }
        write_plots(dir, &title, &histories)?;
        println!("plots written to {}", dir.display());
    }
    Ok(())
}
