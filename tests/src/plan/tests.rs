//! The builder writes what it means.

use super::*;

/// The YAML says exactly what the documents say, whatever the strings
/// look like to a YAML reader (numbers, booleans, nulls, flow markers).
#[test]
fn the_yaml_reads_back_as_the_documents() {
    let tricky = [
        "8080",
        "-f",
        "true",
        "yes",
        "no",
        "null",
        "~",
        "",
        "a: b",
        "- x",
        "[x]",
        "{x}",
        "#x",
        "x #y",
        "&a",
        "*a",
        "!t",
        "|",
        ">",
        "@x",
        "`x`",
        "'q'",
        "\"q\"",
        "0x1F",
        "1e3",
        ".inf",
        "2024-01-01",
        "a\nb",
        "\ttab",
        " lead",
        "trail ",
    ];
    let plan = PlanBuilder::new("p")
        .environment("dev", "dev")
        .infrastructure(container("db", "img:1").command(&tricky).env("K", "007"))
        .version("v", |v| {
            v.range("services", 1, 2)
                .container(container("c", "img").port_in(1, 80, "services"))
                .service_data("d", "c", &["sh", "-c", "cat > /x && mv /x /y"], &tricky)
        })
        .selection(Selection::new("s", "p", "v").sync_on_switch(false));
    let yaml = plan.yaml();
    let back: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("the YAML parses");
    assert_eq!(back, plan.documents(), "{yaml}");
}

#[test]
fn edit_changes_the_named_container_and_only_it() {
    let plan = PlanBuilder::new("p")
        .infrastructure(container("db", "db:1"))
        .version("a", |v| v.container(container("web", "web:1")))
        .edit("web", |c| c.image("web:2"));
    let spec = plan.spec();
    assert_eq!(spec["versions"][0]["containers"][0]["image"], "web:2");
    assert_eq!(spec["infrastructure"][0]["image"], "db:1");
}

#[test]
#[should_panic(expected = "has no container nope")]
fn editing_a_container_the_plan_lacks_fails_the_test() {
    let _ = PlanBuilder::new("p").edit("nope", |c| c);
}
