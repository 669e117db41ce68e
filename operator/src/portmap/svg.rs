//! A small SVG writer: every text and attribute value goes through
//! [`escape`], so names and messages (user data) can never become markup.
//! Presentation is by attributes only (no `<style>`), because the status
//! page inlines the SVG under a Content-Security-Policy that allows no
//! inline style.

use std::fmt::Write;

/// `s` safe inside an XML text node or a double- or single-quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 forbids (controls other than tab and
            // newline): a parser would refuse the whole document.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document being written.
pub struct Svg {
    out: String,
}

/// A number as SVG wants it: one decimal, no trailing `.0` noise.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

impl Svg {
    pub fn new(width: f64, height: f64, title: &str) -> Svg {
        let mut out = String::new();
        let (w, h) = (n(width), n(height));
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12" role="img" aria-label="{t}"><title>{t}</title>"#,
            t = escape(title)
        );
        out.push_str(r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
        Svg { out }
    }

    /// Opens a group with `attrs` (name, value) pairs; close it with [`Svg::end`].
    pub fn group(&mut self, attrs: &[(&str, &str)]) {
        self.out.push_str("<g");
        self.attrs(attrs);
        self.out.push('>');
    }

    pub fn end(&mut self) {
        self.out.push_str("</g>");
    }

    fn attrs(&mut self, attrs: &[(&str, &str)]) {
        for (k, v) in attrs {
            let _ = write!(self.out, r#" {k}="{}""#, escape(v));
        }
    }

    /// A rectangle with a tooltip.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &[(&str, &str)], tip: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}""#,
            n(x),
            n(y),
            n(w),
            n(h)
        );
        self.attrs(attrs);
        self.close_with_tip("rect", tip);
    }

    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), attrs: &[(&str, &str)]) {
        let _ = write!(
            self.out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}""#,
            n(x1),
            n(y1),
            n(x2),
            n(y2)
        );
        self.attrs(attrs);
        self.out.push_str("/>");
    }

    pub fn circle(&mut self, x: f64, y: f64, r: f64, attrs: &[(&str, &str)], tip: &str) {
        let _ = write!(
            self.out,
            r#"<circle cx="{}" cy="{}" r="{}""#,
            n(x),
            n(y),
            n(r)
        );
        self.attrs(attrs);
        self.close_with_tip("circle", tip);
    }

    /// Text at (x, y), escaped.
    pub fn text(&mut self, x: f64, y: f64, text: &str, attrs: &[(&str, &str)]) {
        let _ = write!(self.out, r#"<text x="{}" y="{}""#, n(x), n(y));
        self.attrs(attrs);
        let _ = write!(self.out, ">{}</text>", escape(text));
    }

    fn close_with_tip(&mut self, tag: &str, tip: &str) {
        if tip.is_empty() {
            self.out.push_str("/>");
        } else {
            let _ = write!(self.out, "><title>{}</title></{tag}>", escape(tip));
        }
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// `text` broken into lines of at most about `width` characters, at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
