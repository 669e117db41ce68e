//! The port map: the original plan's clash, escaping, the broken axis.

use std::path::Path;

use turnout_crds::load::Documents;
use turnout_crds::plan::PortPlanSpec;

use super::axis::{Axis, MIN_REGION, regions};
use super::*;

fn plan_of(yaml: &str) -> (String, PortPlanSpec) {
    let docs = Documents::parse(Path::new("test.yaml"), yaml).expect("the test plan parses");
    let p = &docs.plans[0].value;
    (p.metadata.name.clone().unwrap_or_default(), p.spec.clone())
}

fn example(name: &str) -> (String, PortPlanSpec) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("the example exists");
    plan_of(&text)
}

/// A plan with `infra` ports on infrastructure container `db` and one
/// version `v` whose range `services` is `from..=to`, its container `svc`
/// publishing `from`.
fn small(name: &str, infra: &[u16], from: u16, to: u16) -> String {
    let ports: Vec<String> = infra
        .iter()
        .map(|p| format!("{{host: {p}, container: {p}}}"))
        .collect();
    format!(
        "apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {{name: p}}\nspec:\n  infrastructure:\n    - name: db\n      image: busybox\n      ports: [{}]\n  versions:\n    - name: v\n      ranges: [{{name: services, from: {from}, to: {to}}}]\n      containers:\n        - name: {name}\n          image: busybox\n          ports: [{{host: {from}, container: 80, range: services}}]\n",
        ports.join(", ")
    )
}

#[test]
fn the_original_plan_shows_its_9200_clash_in_red_with_the_rule() {
    let (name, plan) = example("original-plan.yaml");
    let svg = render(&name, &plan, None);
    assert!(
        svg.contains(r#"class="clash" data-rule="RangeCoversInfrastructurePort" data-port="9200""#),
        "{svg}"
    );
    // One line at 9200 names both rules broken there.
    assert!(
        svg.contains(">9200 PortConflict, RangeCoversInfrastructurePort<"),
        "{svg}"
    );
    assert!(svg.contains("blockchain: services 9000-9099, contracts 9100-9199, shared 9200-9299"));
    assert!(
        svg.contains("blockchain: range shared 9200-9299</title>"),
        "the band's tooltip"
    );
    assert!(
        svg.contains("test-elasticsearch"),
        "the legend names the owner"
    );
}

#[test]
fn a_valid_plan_draws_no_clash() {
    let (name, plan) = example("three-versions.yaml");
    let svg = render(&name, &plan, None);
    assert!(!svg.contains(r#"class="clash""#), "{svg}");
    assert!(svg.contains("no rule broken"));
    for range in [
        "services 8000-8079",
        "governance 8300-8399",
        "contracts 9100-9199",
    ] {
        assert!(svg.contains(range), "{range} is on the map");
    }
}

#[test]
fn every_name_and_message_is_escaped() {
    // An invalid container name reaches the map twice: as a mark's tooltip
    // and in the violation that names it.
    let hostile = r#""x<script>alert('&')</script>""#;
    let (name, plan) = plan_of(&small(hostile, &[3306], 8000, 8099));
    let observed = Observed {
        active: Some("v\"><b>".into()),
        desired: None,
        published: Vec::new(),
        foreign: vec![Foreign {
            port: 3306,
            holder: "process <img src=x> (pid 7)".into(),
            wanted_by: "db".into(),
        }],
    };
    let svg = render(&name, &plan, Some(&observed));
    assert!(!svg.contains("<script"), "{svg}");
    assert!(!svg.contains("<img"), "{svg}");
    assert!(!svg.contains("<b>"), "{svg}");
    assert!(
        svg.contains("x&lt;script&gt;alert(&#39;&amp;&#39;)&lt;/script&gt;"),
        "{svg}"
    );
    assert!(svg.contains("process &lt;img src=x&gt; (pid 7)"), "{svg}");
    assert!(svg.contains("InvalidName"), "the violation is listed");
    // Every `<` left opens a tag of the SVG vocabulary used here.
    for (i, _) in svg.match_indices('<') {
        let tag: String = svg[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
            .collect();
        let tag = tag.trim_start_matches('/');
        assert!(
            ["svg", "title", "rect", "g", "text", "line", "circle"].contains(&tag),
            "unexpected tag {tag:?} at {i}"
        );
    }
}

#[test]
fn published_ports_and_foreign_listeners_are_marked() {
    let (name, plan) = plan_of(&small("svc", &[3306], 8000, 8099));
    let observed = Observed {
        active: Some("v".into()),
        desired: Some("v".into()),
        published: vec![Published {
            container: "svc".into(),
            role: "v".into(),
            port: 8000,
            running: true,
        }],
        foreign: vec![Foreign {
            port: 3306,
            holder: "process nginx (pid 12)".into(),
            wanted_by: "db".into(),
        }],
    };
    let svg = render(&name, &plan, Some(&observed));
    assert!(
        svg.contains(r#"class="published" data-port="8000""#),
        "{svg}"
    );
    assert!(svg.contains(r#"class="planned" data-port="3306""#), "{svg}");
    assert!(svg.contains(r#"class="foreign" data-port="3306""#), "{svg}");
    assert!(svg.contains("port 3306 is held by process nginx (pid 12), planned for db"));
    assert!(svg.contains(">v (active)<"));
    // Without observations nothing is drawn as published.
    let bare = render(&name, &plan, None);
    assert!(!bare.contains(r#"class="published""#));
    assert!(!bare.contains("foreign listeners"));
}

#[test]
fn neighbouring_ranges_share_a_region_and_distant_ports_do_not() {
    assert_eq!(
        regions(&[(9200, 9200), (8100, 8199), (8000, 8099), (80, 80), (85, 85)]),
        vec![(80, 85), (8000, 8199), (9200, 9200)]
    );
    assert_eq!(regions(&[(9000, 9299), (9200, 9200)]), vec![(9000, 9299)]);
}

#[test]
fn ports_from_80_to_65535_stay_readable() {
    let (name, plan) = plan_of(&small("svc", &[80, 443, 3306, 65535], 8000, 8099));
    let intervals = [
        (80, 80),
        (443, 443),
        (3306, 3306),
        (65535, 65535),
        (8000, 8099),
    ];
    let axis = Axis::new(&intervals, 900.0);
    assert_eq!(axis.regions.len(), 5);
    assert!(axis.regions.iter().all(|r| r.width >= MIN_REGION));
    assert!(axis.width <= 901.0, "{}", axis.width);
    let xs: Vec<f64> = [80, 443, 3306, 8000, 8099, 65535]
        .iter()
        .map(|p| axis.x(*p).expect("on the axis"))
        .collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    // The range gets more room than a lone port.
    let wide = axis
        .regions
        .iter()
        .find(|r| r.lo == 8000)
        .expect("the range's region");
    assert!(wide.width > 2.0 * MIN_REGION, "{wide:?}");
    assert_eq!(axis.x(5000), None, "empty space is left out");
    let svg = render(&name, &plan, None);
    let width: f64 = svg
        .split("width=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .expect("the svg has a width");
    assert!(width <= 1200.0, "{width}");
    assert!(svg.contains(">65535<") && svg.contains(">80<"));
}

#[test]
fn host_ports_are_read_from_the_status_form() {
    assert_eq!(host_port("0.0.0.0:3306->3306/tcp"), Some(3306));
    assert_eq!(host_port("[::]:8080->80/tcp"), Some(8080));
    assert_eq!(host_port("8080->80/udp"), Some(8080));
    assert_eq!(host_port("nonsense"), None);
}
