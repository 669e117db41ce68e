//! The port axis of the map: a broken axis that shows only the regions of
//! the port space that hold something, each region drawn linearly and
//! given room by the logarithm of its span, so a plan with ports from 80 to
//! 65535 stays readable (a linear axis would squeeze 3306, 5432 and 6379
//! into one pixel each and spend most of the page on empty space).

/// Regions closer than this many ports are drawn as one.
const MIN_GAP: u32 = 16;
/// The narrowest a region is drawn (pixels).
pub const MIN_REGION: f64 = 52.0;
/// Room between two regions, where the axis shows its break.
pub const BREAK: f64 = 20.0;
/// Room inside a region's ends, so marks at its edges stay inside it.
const PAD: f64 = 8.0;

/// One drawn region of the port space.
#[derive(Clone, Debug, PartialEq)]
pub struct Region {
    pub lo: u16,
    pub hi: u16,
    /// Left edge and width (pixels, from the start of the plot).
    pub x: f64,
    pub width: f64,
}

/// The axis: regions left to right, in port order.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub regions: Vec<Region>,
    pub width: f64,
}

/// The regions that hold `intervals` (inclusive port ranges, any order):
/// overlapping or close intervals merge, so a band never spans a break.
pub fn regions(intervals: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut sorted: Vec<(u16, u16)> = intervals
        .iter()
        .map(|&(a, b)| (a.min(b), a.max(b)))
        .collect();
    sorted.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (lo, hi) in sorted {
        match out.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1) + gap(*last) => {
                last.1 = last.1.max(hi)
            }
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// How far the next interval may start and still join `r`: a fifth of the
/// region's span, so neighbouring ranges (8000-8099, 8100-8199) join and a
/// lone port a thousand away does not.
fn gap(r: (u16, u16)) -> u32 {
    MIN_GAP.max((u32::from(r.1) - u32::from(r.0)) / 5)
}

impl Axis {
    /// Lays out the regions holding `intervals` on about `width` pixels
    /// (more when there are many regions: each keeps [`MIN_REGION`]).
    pub fn new(intervals: &[(u16, u16)], width: f64) -> Axis {
        let spans = regions(intervals);
        let n = spans.len() as f64;
        let weight = |&(lo, hi): &(u16, u16)| (1.0 + f64::from(hi - lo)).ln();
        let total: f64 = spans.iter().map(weight).sum();
        let fixed = n * MIN_REGION + (n - 1.0).max(0.0) * BREAK;
        let spare = (width - fixed).max(0.0);
        let mut x = 0.0;
        let mut out = Vec::with_capacity(spans.len());
        for s in &spans {
            let share = if total > 0.0 {
                spare * weight(s) / total
            } else {
                0.0
            };
            let w = MIN_REGION + share;
            out.push(Region {
                lo: s.0,
                hi: s.1,
                x,
                width: w,
            });
            x += w + BREAK;
        }
        let width = (x - BREAK).max(0.0);
        Axis {
            regions: out,
            width,
        }
    }

    /// Where `port` is drawn; None when no region holds it.
    pub fn x(&self, port: u16) -> Option<f64> {
        let r = self.regions.iter().find(|r| r.lo <= port && port <= r.hi)?;
        if r.lo == r.hi {
            return Some(r.x + r.width / 2.0);
        }
        let inner = r.width - 2.0 * PAD;
        let at = f64::from(port - r.lo) / f64::from(r.hi - r.lo);
        Some(r.x + PAD + at * inner)
    }

    /// The left and right of a band from `from` to `to` (at least 3 pixels wide).
    pub fn span(&self, from: u16, to: u16) -> Option<(f64, f64)> {
        let (a, b) = (self.x(from)?, self.x(to)?);
        let (a, b) = (a.min(b), a.max(b));
        if b - a < 3.0 {
            let mid = (a + b) / 2.0;
            return Some((mid - 1.5, mid + 1.5));
        }
        Some((a, b))
    }
}
