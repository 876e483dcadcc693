use super::*;

// Goal: every unit reads as a person writes it, at the boundaries too.
// Method: one line per case: input → expected text.
#[test]
fn durations_pick_the_unit_after_rounding() {
    assert_eq!(duration_us(0.0), "0 µs");
    assert_eq!(duration_us(0.5), "0.5 µs");
    assert_eq!(duration_us(850.0), "850 µs");
    assert_eq!(duration_us(999.4), "999 µs");
    assert_eq!(duration_us(999.6), "1 ms");
    assert_eq!(duration_us(1_694.0), "1.69 ms");
    assert_eq!(duration_us(36_543.0), "36.5 ms");
    assert_eq!(duration_us(999_960.0), "1 s");
    assert_eq!(duration_us(1_200_000.0), "1.2 s");
    assert_eq!(duration_us(59_999_000.0), "60 s");
    assert_eq!(duration_us(90_000_000.0), "1.5 min");
    assert_eq!(duration_us(5_400_000_000.0), "1.5 h");
    assert_eq!(duration_us(f64::NAN), "-");
    assert_eq!(duration_s(2.5), "2.5 s");
    assert_eq!(duration_s(0.0), "0 s");
    assert_eq!(duration_s(0.25), "250 ms");
}

#[test]
fn time_ticks_share_the_unit_of_their_axis() {
    assert_eq!(time_tick(0.0, 3.0), "0 s");
    assert_eq!(time_tick(0.5, 3.0), "0.5 s");
    assert_eq!(time_tick(120.0, 150.0), "120 s");
    assert_eq!(time_tick(150.0, 600.0), "2.5 min");
    assert_eq!(time_tick(0.25, 0.5), "250 ms");
    assert_eq!(time_tick(5_400.0, 36_000.0), "1.5 h");
}

#[test]
fn counts_and_rates_use_k_m_g() {
    assert_eq!(count(0.0), "0");
    assert_eq!(count(1.5), "1.5");
    assert_eq!(count(950.4), "950");
    assert_eq!(count(999.7), "1k");
    assert_eq!(count(12_345.0), "12.3k");
    assert_eq!(count(100_000.0), "100k");
    assert_eq!(count(4_500_000.0), "4.5M");
    assert_eq!(count(2_000_000_000.0), "2G");
    assert_eq!(count(-3.0), "-3");
    assert_eq!(count(f64::INFINITY), "-");
    assert_eq!(rate_per_s(12_300.0), "12.3k ops/s");
    assert_eq!(rate_per_s(951.2), "951 ops/s");
}

#[test]
fn percents_and_slo_values() {
    assert_eq!(percent(0.0), "0 %");
    assert_eq!(percent(0.001), "0.1 %");
    assert_eq!(percent(0.027_74), "2.77 %");
    assert_eq!(percent(1.0), "100 %");
    assert_eq!(slo_value(36_543.0, "us"), "36.5 ms");
    assert_eq!(slo_value(0.027_74, "ratio"), "2.77 %");
    assert_eq!(slo_value(12_345.0, "ops/s"), "12.3k ops/s");
    assert_eq!(slo_value(7.0, "widgets"), "7 widgets");
}
