//! A small live line chart (SVG): samples over time, an optional gate drawn as a dashed line,
//! gaps where there was no value.

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Seconds (any origin; only differences matter).
    pub at: f64,
    pub value: Option<f64>,
}

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 110.0;
const PAD: f64 = 6.0;

/// The vertical range: fixed ends where given, else the data and the gate with some room.
pub fn range(
    samples: &[Sample],
    gate: Option<f64>,
    floor: Option<f64>,
    ceiling: Option<f64>,
) -> (f64, f64) {
    let values = samples.iter().filter_map(|sample| sample.value).chain(gate);
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    let low = floor.unwrap_or(if low.is_finite() { low } else { 0.0 });
    let mut high = ceiling.unwrap_or(if high.is_finite() { high * 1.15 } else { 1.0 });
    if high <= low {
        high = low + 1.0;
    }
    (low, high)
}

/// SVG path segments for the samples (a new segment after each gap).
pub fn path(samples: &[Sample], low: f64, high: f64) -> String {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return String::new();
    };
    let span = (last.at - first.at).max(1.0);
    let mut out = String::new();
    let mut pen_down = false;
    for sample in samples {
        let Some(value) = sample.value else {
            pen_down = false;
            continue;
        };
        let x = PAD + (sample.at - first.at) / span * (WIDTH - 2.0 * PAD);
        let y = HEIGHT - PAD - (value.clamp(low, high) - low) / (high - low) * (HEIGHT - 2.0 * PAD);
        out.push_str(&format!(
            "{}{x:.1},{y:.1} ",
            if pen_down { "L" } else { "M" }
        ));
        pen_down = true;
    }
    out.trim_end().to_string()
}

#[component]
pub fn Chart(
    title: &'static str,
    samples: Signal<Vec<Sample>>,
    gate: Signal<Option<f64>>,
    floor: Option<f64>,
    ceiling: Option<f64>,
    class: &'static str,
) -> impl IntoView {
    let bounds = move || range(&samples.get(), gate.get(), floor, ceiling);
    let latest = move || {
        samples
            .get()
            .last()
            .and_then(|sample| sample.value)
            .map(|value| format!("{value:.1}"))
            .unwrap_or_else(|| "–".into())
    };
    view! {
        <figure class=format!("chart {class}")>
            <figcaption>{title} <strong class="latest">{latest}</strong></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") width=WIDTH.to_string() height=HEIGHT.to_string() role="img" aria-label=title>
                <rect class="frame" x="0.5" y="0.5" width=(WIDTH - 1.0).to_string() height=(HEIGHT - 1.0).to_string() rx="6" />
                {move || gate.get().map(|gate| {
                    let (low, high) = bounds();
                    let y = HEIGHT - PAD - (gate.clamp(low, high) - low) / (high - low) * (HEIGHT - 2.0 * PAD);
                    view! { <line class="gate" x1=PAD.to_string() x2=(WIDTH - PAD).to_string() y1=format!("{y:.1}") y2=format!("{y:.1}") /> }
                })}
                <path class="series" d=move || { let (low, high) = bounds(); path(&samples.get(), low, high) } />
            </svg>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at: f64, value: Option<f64>) -> Sample {
        Sample { at, value }
    }

    #[test]
    fn gaps_split_the_line_and_values_map_into_the_box() {
        let samples = [at(0.0, Some(0.0)), at(1.0, None), at(2.0, Some(100.0))];
        let d = path(&samples, 0.0, 100.0);
        assert_eq!(
            d,
            format!("M{PAD:.1},{:.1} M{:.1},{PAD:.1}", HEIGHT - PAD, WIDTH - PAD)
        );
        assert_eq!(path(&[], 0.0, 1.0), "");
    }

    #[test]
    fn the_range_holds_the_gate_and_fixed_ends() {
        assert_eq!(
            range(&[at(0.0, Some(50.0))], Some(99.0), Some(0.0), Some(100.0)),
            (0.0, 100.0)
        );
        let (low, high) = range(&[at(0.0, Some(20.0))], Some(500.0), Some(0.0), None);
        assert_eq!(low, 0.0);
        assert!(high > 500.0);
        assert_eq!(range(&[], None, None, None), (0.0, 1.0));
    }
}
