//! `docs/tutorial.md`: its `vprog` blocks, in order, are one program that
//! parses, checks and runs, and the numbers the text quotes hold. (Its
//! Rust block runs as a doctest of the crate.)

use vprog::lang::{Diagnostic, FileId};
use vprog::runtime::fit::FitReport;
use vprog::runtime::session::{ReportValue, Session, Sink};
use vprog::{check_program, load, render_diagnostics};

const TUTORIAL: &str = include_str!("../docs/tutorial.md");

/// The tutorial's ```` ```vprog ```` blocks, in order.
fn vprog_blocks() -> Vec<&'static str> {
    let mut blocks = Vec::new();
    let mut rest = TUTORIAL;
    while let Some(start) = rest.find("```vprog\n") {
        let body = &rest[start + "```vprog\n".len()..];
        let end = body.find("```").expect("a closed block");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    blocks
}

#[derive(Default)]
struct Collect {
    fits: Vec<(String, FitReport)>,
    reports: Vec<(String, ReportValue)>,
}

impl Sink for Collect {
    fn fit_finished(&mut self, name: &str, report: &FitReport) {
        self.fits.push((name.to_string(), report.clone()));
    }
    fn report(&mut self, name: &str, value: &ReportValue) {
        self.reports.push((name.to_string(), value.clone()));
    }
}

impl Collect {
    fn value(&self, name: &str) -> f64 {
        match self.reports.iter().find(|(n, _)| n == name) {
            Some((_, ReportValue::Values(v))) => v[0],
            Some((_, ReportValue::Estimate(e))) => e.mean,
            None => panic!("no report `{name}`"),
        }
    }
}

#[test]
fn every_block_parses_on_its_own() {
    let blocks = vprog_blocks();
    assert_eq!(blocks.len(), 5, "the tutorial's vprog blocks");
    for block in blocks {
        let (_, diagnostics) = vprog::lang::parse::parse_file(FileId(0), block);
        assert!(
            !diagnostics.iter().any(Diagnostic::is_error),
            "{block}\n{diagnostics:?}"
        );
    }
}

#[test]
fn the_blocks_check_and_run_as_the_text_says() {
    let program_text = vprog_blocks().join("\n");
    let mut sources = vprog::lang::SourceMap::new();
    let program = load(&mut sources, "tutorial.vprog", &program_text)
        .unwrap_or_else(|d| panic!("{}", render_diagnostics(&sources, &d, false)));
    let errors = check_program(&program);
    assert!(
        errors.is_empty(),
        "{}",
        render_diagnostics(&sources, &errors, false)
    );

    let mut sink = Collect::default();
    let mut session = Session::new(program, 0);
    if let Err(e) = session.run(&mut sink) {
        let d = vprog::session_error_diagnostic(&e);
        panic!("{}", render_diagnostics(&sources, &[d], false));
    }
    // Section 4: the exact posterior is N(2.1956, 0.4468²), and the bound
    // reaches the log evidence −7.8971.
    assert!((sink.value("guide_mean") - 2.1956).abs() < 0.05);
    assert!((sink.value("guide_scale") - 0.4468).abs() < 0.05);
    assert!((sink.value("evidence_bound") + 7.8971).abs() < 0.05);
    // Section 5: the hand-written ELBO is the library's.
    assert!((sink.value("hand_written") - sink.value("evidence_bound")).abs() < 0.02);
    // Section 6: the guide learns the positive component.
    assert!(sink.value("switch_p") > 0.95);
    assert_eq!(
        sink.fits.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["objective", "switch"]
    );
}
