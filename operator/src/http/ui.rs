//! The status page: a read-only view of the status document and the port
//! map, served by the same server, on the same address and under the same
//! limits as `/status`. Its HTML, CSS and JavaScript are compiled into the
//! binary (nothing is fetched from elsewhere at run time), and the page is
//! locked down by a Content-Security-Policy that allows only these files:
//! no inline script, no inline style, no other origin.
//!
//! `/portmap.svg` draws the running plan; `/portmap.svg?refused=1` the plan
//! of an edit standalone mode refused for breaking the plan's rules (404
//! when the file holds no such edit), which the page shows next to it.
//!
//! The page polls `/status` (every 1.5 s) rather than holding a stream
//! open: a poll is an ordinary short request, so it needs no subscriber
//! bound of its own, cannot pin one of the server's connection places,
//! and survives a restart of turnout without any reconnect logic.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use super::Shared;

const INDEX: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const APP_CSS: &str = include_str!("ui/app.css");

/// The page's policy: its own script, style and data; nothing else, and no
/// framing.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// The port map opened on its own: a picture, nothing to run.
const SVG_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Whether `path` belongs to the status page.
pub fn is_page(path: &str) -> bool {
    matches!(
        path,
        "/" | "/ui" | "/ui/" | "/ui/app.js" | "/ui/app.css" | "/ui/selections" | "/portmap.svg"
    )
}

/// What `/portmap.svg?refused=1` answers when no edit is refused.
const NO_REFUSED_EDIT: &str = "no refused edit: the desired file's last edit was applied, or did not read as a plan at all (then /status has only its fileError)\n";

/// The answer to a GET of `path` with `query` (`selection=`: about which
/// selection, else the first; `refused=1`: the refused edit's map) when it
/// is the page's, else None.
pub fn serve(path: &str, query: Option<&str>, shared: &Shared) -> Option<Response<Full<Bytes>>> {
    let selection = selection(query);
    let selection = selection.as_deref();
    let r = match path {
        "/" => {
            let mut r = plain(StatusCode::SEE_OTHER, "text/plain", "/ui\n".into());
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/ui"));
            r
        }
        "/ui" | "/ui/" => page(INDEX, "text/html; charset=utf-8"),
        "/ui/app.js" => page(APP_JS, "text/javascript; charset=utf-8"),
        "/ui/app.css" => page(APP_CSS, "text/css; charset=utf-8"),
        "/ui/selections" => {
            let json = serde_json::to_string(&shared.selections()).unwrap_or_default();
            plain(StatusCode::OK, "application/json", json)
        }
        "/portmap.svg" if wants_refused(query) => match shared.refused_portmap_svg(selection) {
            Some(svg) => picture(svg),
            None if shared.selections().is_empty() => not_yet(),
            None => plain(StatusCode::NOT_FOUND, "text/plain", NO_REFUSED_EDIT.into()),
        },
        "/portmap.svg" => match shared.portmap_svg(selection) {
            Some(svg) => picture(svg),
            None => not_yet(),
        },
        _ => return None,
    };
    Some(r)
}

fn picture(svg: String) -> Response<Full<Bytes>> {
    let mut r = plain(StatusCode::OK, "image/svg+xml; charset=utf-8", svg);
    secure(&mut r, SVG_POLICY);
    r
}

fn not_yet() -> Response<Full<Bytes>> {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain",
        "no reconcile has finished yet\n".into(),
    )
}

/// Whether the query asks for the refused edit's map (`refused=1`).
fn wants_refused(query: Option<&str>) -> bool {
    param(query, "refused").is_some_and(|v| matches!(v.as_str(), "1" | "true"))
}

/// The `selection` parameter of a query string (`?selection=ns%2Fname`),
/// percent-decoded. Used only to look a key up, never echoed or executed.
pub fn selection(query: Option<&str>) -> Option<String> {
    param(query, "selection")
}

/// The first parameter `name` of a query string, percent-decoded.
fn param(query: Option<&str>, name: &str) -> Option<String> {
    let value = query?.split('&').find_map(|pair| {
        pair.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
    })?;
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn plain(code: StatusCode, ctype: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn page(body: &'static str, ctype: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    secure(&mut r, PAGE_POLICY);
    r
}

/// The headers every page and picture carries.
fn secure(r: &mut Response<Full<Bytes>>, policy: &'static str) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(r: &Response<Full<Bytes>>, name: header::HeaderName) -> String {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn the_page_and_its_files_carry_the_strict_policy() {
        let shared = Shared::default();
        for path in ["/ui", "/ui/app.js", "/ui/app.css"] {
            let r = serve(path, None, &shared).expect("a page path");
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&r, header::CONTENT_SECURITY_POLICY), PAGE_POLICY);
            assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        }
        assert!(!PAGE_POLICY.contains("unsafe"));
        let root = serve("/", None, &shared).expect("the root redirects");
        assert_eq!(root.status(), StatusCode::SEE_OTHER);
        assert_eq!(header_of(&root, header::LOCATION), "/ui");
        assert!(
            serve("/status", None, &shared).is_none(),
            "left to the server"
        );
        for path in [
            "/",
            "/ui",
            "/ui/",
            "/ui/app.js",
            "/ui/app.css",
            "/ui/selections",
            "/portmap.svg",
        ] {
            assert!(
                is_page(path) && serve(path, None, &shared).is_some(),
                "{path}"
            );
        }
        assert!(!is_page("/metrics") && serve("/metrics", None, &shared).is_none());
        let map = serve("/portmap.svg", None, &shared).expect("the map's path");
        assert_eq!(
            map.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "nothing published yet"
        );
    }

    fn body_of(r: Response<Full<Bytes>>) -> String {
        use http_body_util::BodyExt;
        let bytes = futures::executor::block_on(r.into_body().collect())
            .expect("a full body")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[test]
    fn the_refused_edit_is_drawn_only_while_there_is_one() {
        use crate::status::{RefusedPlan, StandaloneStatus};
        use turnout_crds::plan::PortPlanSpec;
        let shared = Shared::default();
        let refused = |q| serve("/portmap.svg", Some(q), &shared).expect("the map's path");
        assert_eq!(
            refused("refused=1").status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "nothing published yet"
        );
        let doc: StandaloneStatus = serde_json::from_value(serde_json::json!({
            "file": "desired.yaml", "plan": "running", "selection": "host",
            "desiredVersion": "future", "updatedAt": "", "status": {}
        }))
        .expect("a status document");
        let plan =
            |v: serde_json::Value| -> PortPlanSpec { serde_json::from_value(v).expect("a plan") };
        let running = plan(serde_json::json!({"infrastructure": [], "versions": []}));
        shared.publish_alone("host", doc.clone(), running.clone(), None);
        let none = refused("refused=1");
        assert_eq!(none.status(), StatusCode::NOT_FOUND);
        assert!(body_of(none).starts_with("no refused edit"));

        // An edit naming a container with markup, its range over port 9200.
        let edit = plan(serde_json::json!({
            "infrastructure": [{"name": "es", "image": "es:8", "ports": [{"host": 9200, "container": 9200}]}],
            "versions": [{"name": "<script>x</script>", "ranges": [{"name": "shared", "from": 9200, "to": 9299}], "containers": []}]
        }));
        let violations = turnout_crds::validate::validate_plan(&edit);
        let edit = RefusedPlan {
            plan_name: "edited\"><script>".into(),
            plan: edit,
            violations,
        };
        shared.publish_alone("host", doc.clone(), running.clone(), Some(edit));
        for q in ["refused=1", "selection=host&refused=true"] {
            let r = refused(q);
            assert_eq!(r.status(), StatusCode::OK, "{q}");
            assert_eq!(header_of(&r, header::CONTENT_SECURITY_POLICY), SVG_POLICY);
            assert_eq!(
                header_of(&r, header::CONTENT_TYPE),
                "image/svg+xml; charset=utf-8"
            );
            let svg = body_of(r);
            assert!(svg.contains("not applied"), "{svg}");
            assert!(
                svg.contains(
                    r#"class="clash" data-rule="RangeCoversInfrastructurePort" data-port="9200""#
                ),
                "{svg}"
            );
            assert!(!svg.contains("<script"), "names are escaped: {svg}");
            assert!(svg.contains("&lt;script&gt;x&lt;/script&gt;"), "{svg}");
        }
        // Without the parameter (or with another value): the running plan.
        for q in ["selection=host", "refused=0", "notrefused=1"] {
            let svg = body_of(refused(q));
            assert!(svg.contains("Port map of plan running"), "{q}: {svg}");
        }
        assert_eq!(
            refused("selection=gone&refused=1").status(),
            StatusCode::NOT_FOUND
        );
        // A good edit is published without it: the refused map is gone.
        shared.publish_alone("host", doc, running, None);
        assert_eq!(refused("refused=1").status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_selection_is_read_from_the_query() {
        assert_eq!(
            selection(Some("selection=ns%2Fhost")).as_deref(),
            Some("ns/host")
        );
        assert_eq!(
            selection(Some("a=1&selection=ns/h")).as_deref(),
            Some("ns/h")
        );
        assert_eq!(selection(Some("selection=%zz")), None);
        assert_eq!(selection(Some("selection=%2")), None);
        assert_eq!(selection(Some("selection=%")), None);
        assert_eq!(selection(Some("other=1")), None);
        assert_eq!(selection(Some("selectionx=a")), None);
        assert_eq!(selection(None), None);
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_no_html_from_data() {
        // The policy would block them; a page that needed them would be broken.
        assert!(!INDEX.contains("<script>") && !INDEX.contains("style="));
        assert!(INDEX.contains(r#"<script src="/ui/app.js""#));
        assert!(
            !INDEX.contains("http://") && !INDEX.contains("https://"),
            "no asset from elsewhere"
        );
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}");
        }
    }
}
