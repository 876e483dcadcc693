//! `report.html` in a real browser: headless Chromium (Debian's `chromium`) opens the
//! report of a real short run and must log no console error, request nothing but the
//! file itself, render the charts (each figure by id with its series, the SVG curves
//! holding their points), and show the values under the pointer when the mouse moves
//! over a chart. A screenshot is kept in the run folder, and copied to the path in
//! `STOCKPROOF_REPORT_SCREENSHOT` when set (to look at it, or keep it as a CI artifact).
//! Without chromium the test is skipped, saying so, unless
//! `STOCKPROOF_REQUIRE_BROWSER=1` (set by `.ci/run`), where a missing browser fails it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use headless_chrome::protocol::cdp::Log::LogEntryLevel;
use headless_chrome::protocol::cdp::Network;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::Runtime::ConsoleAPICalledEventTypeOption;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions};
use serde::Deserialize;

use crate::support::{describe, flash_sale_without_slos, only_run_folder, run_bounded, short_run};

/// Names Debian and other distributions give the browser, looked up on PATH.
const CHROMIUM_NAMES: [&str; 2] = ["chromium", "chromium-browser"];
/// Bound on each browser step (start, navigation, evaluation); a report loads in well
/// under a second, so reaching it means the browser hung.
const BROWSER_STEP_WAIT_MAX: Duration = Duration::from_secs(60);
/// Big enough to draw the whole page of a one-SKU run in the screenshot at a readable
/// size, so moving the mouse over a chart scrolls nothing.
const WINDOW_SIZE_PX: (u32, u32) = (1280, 4000);
/// Every chart a run with shopper ops and a SKU has, and the series each must draw.
const EXPECTED_CHARTS: [(&str, &[&str]); 4] = [
    ("chart-latency", &["p50", "p99", "max"]),
    ("chart-outcomes", &["ok", "refused", "unknown"]),
    ("chart-stock-0", &["available", "reserved", "sold"]),
    ("chart-percentiles", &["reserve"]),
];
/// Where a copy of the screenshot goes, when set.
const SCREENSHOT_COPY_ENV: &str = "STOCKPROOF_REPORT_SCREENSHOT";

/// What the page's DOM says about its charts, measured by the browser itself.
#[derive(Debug, Deserialize)]
pub(crate) struct RenderedCharts {
    pub(crate) svgs: usize,
    /// Per `<polyline>`: the points the browser parsed and the drawn box's size.
    pub(crate) polylines: Vec<RenderedPolyline>,
    /// Per `figure.chart`: its id, the series ids drawn in it, and whether the
    /// tooltip script wired it (`data-tooltip="ready"`).
    pub(crate) figures: Vec<RenderedFigure>,
    /// The script ran to its end (`body[data-charts="ready"]`).
    pub(crate) script_ready: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RenderedFigure {
    pub(crate) id: String,
    pub(crate) series: Vec<String>,
    pub(crate) tooltip: bool,
}

/// The latency chart's tooltip after the mouse moved over the chart.
#[derive(Debug, Deserialize)]
struct RenderedTooltip {
    visible: bool,
    text: String,
    crosshair: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RenderedPolyline {
    pub(crate) points: usize,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

/// Counts SVGs and, for every polyline, the points the browser parsed and the size it
/// drew them at (a polyline whose points failed to parse has an empty box); lists the
/// chart figures with their series and whether the tooltip script wired them.
pub(crate) const CHARTS_SCRIPT: &str = "JSON.stringify({
  svgs: document.querySelectorAll('svg').length,
  polylines: Array.from(document.querySelectorAll('svg polyline')).map(line => {
    const box = line.getBBox();
    return { points: line.points.numberOfItems, width: box.width, height: box.height };
  }),
  figures: Array.from(document.querySelectorAll('figure.chart')).map(figure => ({
    id: figure.id,
    series: Array.from(new Set(Array.from(figure.querySelectorAll('[data-series]'))
      .map(element => element.dataset.series))),
    tooltip: figure.dataset.tooltip === 'ready'
  })),
  script_ready: document.body.dataset.charts === 'ready'
})";
/// The latency chart's tooltip and crosshair as the page shows them now.
const TOOLTIP_SCRIPT: &str = "JSON.stringify((() => {
  const figure = document.getElementById('chart-latency');
  const tip = figure.querySelector('.tooltip');
  const cross = figure.querySelector('.crosshair');
  return { visible: !tip.hidden && tip.offsetWidth > 0, text: tip.innerText,
           crosshair: getComputedStyle(cross).visibility === 'visible' };
})())";

/// What the browser saw while loading the page.
#[derive(Debug, Default)]
pub(crate) struct PageEvents {
    pub(crate) requests: Vec<String>,
    pub(crate) errors: Vec<String>,
}

// Goal: the generated report opens in a real browser offline: no console error, no
// request but the file itself, the charts drawn with their points, a screenshot taken.
// Method: a real flash-sale run (10 users, 2 s, SLOs off: timing is not what this tests)
// writes report.html; headless Chromium loads it over file:// with the Network, Runtime
// and Log domains on, recording every request, exception and error entry; the DOM is
// then measured in the page, and a PNG is saved beside the report.
#[test]
fn report_html_opens_in_chromium_offline_with_its_charts() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = generated_report(dir.path());
    let url = format!("file://{}", report.display());

    let browser = launch(&chromium);
    let (tab, events) = open_recorded(&browser, &url);

    let charts: RenderedCharts = evaluate_json(&tab, CHARTS_SCRIPT, &url);
    tab.find_element("#chart-latency svg")
        .and_then(|chart| chart.move_mouse_over().map(|_| ()))
        .unwrap_or_else(|error| panic!("moving the mouse over the latency chart: {error}"));
    let tooltip: RenderedTooltip = evaluate_json(&tab, TOOLTIP_SCRIPT, &url);
    let screenshot = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .expect("a screenshot");
    let screenshot_path = report.with_file_name("report.png");
    std::fs::write(&screenshot_path, &screenshot).unwrap();
    if let Some(copy) = std::env::var_os(SCREENSHOT_COPY_ENV) {
        std::fs::write(&copy, &screenshot)
            .unwrap_or_else(|error| panic!("{SCREENSHOT_COPY_ENV}={copy:?}: {error}"));
    }
    let events = std::mem::take(&mut *events.lock().unwrap_or_else(PoisonError::into_inner));

    assert!(
        events.requests.contains(&url),
        "the browser recorded no request for {url} itself: {:?}",
        events.requests
    );
    assert!(
        events.requests.iter().all(|request| *request == url),
        "requests other than {url}: {:?} (errors: {:?})",
        events.requests,
        events.errors
    );
    assert!(
        events.errors.is_empty(),
        "console errors in {url}: {:#?}",
        events.errors
    );
    assert_charts_drawn(&charts, &url);
    assert_tooltip_shown(&tooltip, &url);
    assert!(
        screenshot.starts_with(b"\x89PNG") && screenshot.len() > 10_000,
        "screenshot {} is not a page's PNG ({} bytes)",
        screenshot_path.display(),
        screenshot.len()
    );
}

/// A tab of `browser` that loaded `url` with the Network, Runtime and Log domains on,
/// and what it recorded while loading (every request, exception and error entry).
pub(crate) fn open_recorded(
    browser: &Browser,
    url: &str,
) -> (Arc<headless_chrome::Tab>, Arc<Mutex<PageEvents>>) {
    let tab = browser.new_tab().expect("a browser tab");
    tab.set_default_timeout(BROWSER_STEP_WAIT_MAX);
    let events = Arc::new(Mutex::new(PageEvents::default()));
    let recorder = Arc::clone(&events);
    tab.add_event_listener(Arc::new(move |event: &Event| {
        // A failed assertion must not turn into a second panic on this thread.
        record(
            &mut recorder.lock().unwrap_or_else(PoisonError::into_inner),
            event,
        );
    }))
    .expect("listening to the tab");
    tab.enable_log().expect("Log domain");
    tab.enable_runtime().expect("Runtime domain");
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .expect("Network domain");
    tab.navigate_to(url)
        .and_then(|tab| tab.wait_until_navigated())
        .unwrap_or_else(|error| panic!("loading {url}: {error}"));
    (tab, events)
}

/// `script` (which returns a JSON string) evaluated in the page, parsed.
pub(crate) fn evaluate_json<T: serde::de::DeserializeOwned>(
    tab: &headless_chrome::Tab,
    script: &str,
    url: &str,
) -> T {
    let measured = tab
        .evaluate(script, false)
        .unwrap_or_else(|error| panic!("evaluating in {url}: {error}"));
    measured
        .value
        .as_ref()
        .and_then(|value| value.as_str())
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| panic!("a measurement of {url} returned {measured:?}"))
}

/// Every expected chart with its series and its tooltip wired, a curve with many
/// points, and every polyline drawn with a non-empty box.
fn assert_charts_drawn(charts: &RenderedCharts, url: &str) {
    assert!(
        charts.script_ready,
        "{url}: the chart script did not run to its end"
    );
    for (id, series) in EXPECTED_CHARTS {
        let figure = charts
            .figures
            .iter()
            .find(|figure| figure.id == id)
            .unwrap_or_else(|| panic!("{url}: no chart {id}: {:?}", charts.figures));
        for expected in series {
            assert!(
                figure.series.iter().any(|drawn| drawn == expected),
                "{url}: chart {id} draws no series {expected}: {figure:?}"
            );
        }
        assert!(
            figure.tooltip,
            "{url}: chart {id} has no tooltip: {figure:?}"
        );
    }
    assert!(charts.svgs >= EXPECTED_CHARTS.len(), "{url}: {charts:?}");
    assert!(
        charts.polylines.iter().any(|line| line.points >= 20),
        "{url}: no curve with 20 points: {charts:?}"
    );
    assert!(
        charts
            .polylines
            .iter()
            .all(|line| line.points >= 2 && line.width > 0.0 && line.height >= 0.0),
        "{url}: a polyline was not drawn: {charts:?}"
    );
}

/// With the mouse over the latency chart: the crosshair drawn, the tooltip visible with
/// a time and p50 / p99 / max in human units.
fn assert_tooltip_shown(tooltip: &RenderedTooltip, url: &str) {
    assert!(
        tooltip.visible && tooltip.crosshair,
        "{url}: no tooltip under the pointer: {tooltip:?}"
    );
    for series in ["p50: ", "p99: ", "max: "] {
        assert!(
            tooltip.text.contains(series),
            "{url}: the tooltip shows no {series}: {tooltip:?}"
        );
    }
    let in_units = tooltip.text.lines().skip(1).all(|line| {
        [" µs", " ms", " s", " min", " h", "no data"]
            .iter()
            .any(|unit| line.ends_with(unit))
    });
    assert!(
        in_units,
        "{url}: a tooltip value without a unit: {tooltip:?}"
    );
}

fn record(events: &mut PageEvents, event: &Event) {
    match event {
        Event::NetworkRequestWillBeSent(sent) => {
            events.requests.push(sent.params.request.url.clone());
        }
        Event::RuntimeExceptionThrown(thrown) => {
            let details = &thrown.params.exception_details;
            let description = details
                .exception
                .as_ref()
                .and_then(|exception| exception.description.as_deref())
                .unwrap_or("no description");
            events.errors.push(format!(
                "exception at line {}: {} {description}",
                details.line_number, details.text
            ));
        }
        Event::RuntimeConsoleAPICalled(called)
            if matches!(called.params.Type, ConsoleAPICalledEventTypeOption::Error) =>
        {
            events
                .errors
                .push(format!("console.error: {:?}", called.params.args));
        }
        Event::LogEntryAdded(added) if matches!(added.params.entry.level, LogEntryLevel::Error) => {
            let entry = &added.params.entry;
            events.errors.push(format!(
                "{:?}: {} ({})",
                entry.source,
                entry.text,
                entry.url.as_deref().unwrap_or("no url")
            ));
        }
        _ => {}
    }
}

/// A real run's report.html: flash-sale, 10 users for 2 s, on a local Redis/Postgres.
fn generated_report(dir: &Path) -> PathBuf {
    let scenario = flash_sale_without_slos(dir);
    let reports = dir.join("reports");
    let output = run_bounded(&mut short_run(&scenario, "local", 10, "2s", &reports));
    let report = only_run_folder(&reports, &output).join("report.html");
    assert!(report.is_file(), "no report.html: {}", describe(&output));
    report
}

pub(crate) fn launch(chromium: &Path) -> Browser {
    // SAFETY: geteuid(2) only reads the process's effective uid.
    let root = unsafe { libc::geteuid() } == 0;
    let options = LaunchOptions::default_builder()
        .path(Some(chromium.to_path_buf()))
        .headless(true)
        // Chromium refuses to start its sandbox as root; the page is our own file.
        .sandbox(!root)
        .window_size(Some(WINDOW_SIZE_PX))
        .idle_browser_timeout(BROWSER_STEP_WAIT_MAX)
        .build()
        .expect("browser options");
    Browser::new(options)
        .unwrap_or_else(|error| panic!("starting {}: {error:#}", chromium.display()))
}

/// The browser on PATH; `None` (skip, saying why) when absent, unless the environment
/// requires it (`STOCKPROOF_REQUIRE_BROWSER=1`, as in CI), where it fails the test.
pub(crate) fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .flat_map(|dir| CHROMIUM_NAMES.map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let reason = format!(
            "no {} on PATH (install it: scripts/install-deps --with-browser)",
            CHROMIUM_NAMES.join(" or ")
        );
        if std::env::var("STOCKPROOF_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("STOCKPROOF_REQUIRE_BROWSER=1 but the browser test cannot run: {reason}");
        }
        eprintln!("skipped: {reason}");
    }
    found
}
