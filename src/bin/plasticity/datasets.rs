//! `plasticity datasets`.

use plasticity::data::catalogue;

pub fn run() -> anyhow::Result<()> {
    let rows = catalogue();
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    println!(
        "{:width$}  {:>26}  {:>12}  {:>8}  source",
        "name", "samples", "features", "classes"
    );
    for r in rows {
        println!(
            "{:width$}  {:>26}  {:>12}  {:>8}  {}",
            r.name, r.samples, r.features, r.classes, r.source
        );
    }
    Ok(())
}
