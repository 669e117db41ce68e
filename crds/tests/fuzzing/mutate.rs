//! How the fuzzer makes inputs: arbitrary bytes, a soup of YAML tokens,
//! and structure-aware mutations of real documents (lines deleted,
//! duplicated, swapped and re-indented; scalars replaced by huge and
//! negative numbers, unicode, control characters and very long strings;
//! keys renamed; anchors, aliases, merge keys and tags; deep nesting;
//! truncation; `---` and directives; BOMs; block scalars; splices of other
//! documents).

use super::dictionary::{
    BOMS, CONTROLS, ESCAPES, HEADERS, KEYS, NUMBERS, SEPARATORS, TAGS, TOKENS, VALUES, WORDS,
};
use super::rng::Rng;
use super::seeds::Seed;

/// One input: from the seeds, by the generator `rng`.
pub fn generate(rng: &mut Rng, seeds: &[Seed]) -> Vec<u8> {
    match rng.below(100) {
        0..=4 => arbitrary_bytes(rng),
        5..=9 => token_soup(rng),
        // Values and lines only: most of these still load, so the
        // validation rules see odd values, not just the parser.
        10..=54 => {
            let mut input = pick_seed(rng, seeds).bytes.clone();
            for _ in 0..1 + rng.skewed(2) {
                gentle(rng, &mut input);
            }
            input
        }
        _ => {
            let mut input = pick_seed(rng, seeds).bytes.clone();
            for _ in 0..1 + rng.skewed(5) {
                mutate(rng, &mut input, seeds);
            }
            input
        }
    }
}

/// A seed, four times in five one that loads as it is (the turnout
/// documents rather than the kustomizations and READMEs beside them).
fn pick_seed<'a>(rng: &mut Rng, seeds: &'a [Seed]) -> &'a Seed {
    let loading: Vec<&Seed> = seeds.iter().filter(|s| s.loads).collect();
    if loading.is_empty() || rng.chance(1, 5) {
        return rng.pick(seeds);
    }
    loading[rng.below(loading.len())]
}

/// A mutation that keeps the YAML well formed more often than not.
pub fn gentle(rng: &mut Rng, input: &mut Vec<u8>) {
    match rng.below(6) {
        0 => on_lines(input, |l| delete_line(rng, l)),
        1 => on_lines(input, |l| duplicate_lines(rng, l)),
        2 => on_lines(input, |l| replace_key(rng, l)),
        _ => on_lines(input, |l| replace_scalar(rng, l)),
    }
}

/// Applies one mutation, picked at random.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Seed]) {
    match rng.below(19) {
        0 => on_lines(input, |l| delete_line(rng, l)),
        1 => on_lines(input, |l| duplicate_lines(rng, l)),
        2 => on_lines(input, |l| swap_lines(rng, l)),
        3 => on_lines(input, |l| reindent(rng, l)),
        4 | 5 => on_lines(input, |l| replace_scalar(rng, l)),
        6 => on_lines(input, |l| replace_key(rng, l)),
        7 => on_lines(input, |l| anchors_and_aliases(rng, l)),
        8 => on_lines(input, |l| tag(rng, l)),
        9 => on_lines(input, |l| deep_nesting(rng, l)),
        10 => truncate(rng, input),
        11 => on_lines(input, |l| separators(rng, l)),
        12 => bom(rng, input),
        13 => flip_bytes(rng, input),
        14 => splice(rng, input, seeds),
        15 => control_characters(rng, input),
        16 => on_lines(input, |l| block_scalar(rng, l)),
        17 => on_lines(input, |l| quoted_escapes(rng, l)),
        _ => on_lines(input, |l| flow_style(rng, l)),
    }
}

fn arbitrary_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.skewed(4096);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

fn token_soup(rng: &mut Rng) -> Vec<u8> {
    let n = rng.skewed(400);
    let mut out = Vec::new();
    for _ in 0..n {
        out.extend_from_slice(rng.pick(TOKENS).as_bytes());
    }
    out
}

/// Runs `f` over the input split into lines (each keeping its `\n`).
fn on_lines(input: &mut Vec<u8>, f: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let mut lines: Vec<Vec<u8>> = input
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if lines.is_empty() {
        lines.push(Vec::new());
    }
    f(&mut lines);
    *input = lines.concat();
}

fn delete_line(rng: &mut Rng, lines: &mut Vec<Vec<u8>>) {
    let i = rng.below(lines.len());
    lines.remove(i);
}

fn duplicate_lines(rng: &mut Rng, lines: &mut Vec<Vec<u8>>) {
    let start = rng.below(lines.len());
    let len = rng.between(1, 4).min(lines.len() - start);
    let block: Vec<Vec<u8>> = lines[start..start + len].to_vec();
    // Mostly once; sometimes hundreds of times, to grow a list (to at most
    // about 2 MB, so making an input never costs more than checking it).
    let bytes: usize = block.iter().map(Vec::len).sum::<usize>().max(1);
    let most = (2 << 20) / bytes;
    let times = if rng.chance(1, 10) {
        rng.skewed(3000).min(most)
    } else {
        1
    };
    for _ in 0..times {
        for (k, l) in block.iter().enumerate() {
            lines.insert(start + k, l.clone());
        }
    }
}

fn swap_lines(rng: &mut Rng, lines: &mut [Vec<u8>]) {
    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
    lines.swap(a, b);
}

fn reindent(rng: &mut Rng, lines: &mut [Vec<u8>]) {
    let start = rng.below(lines.len());
    let len = rng.between(1, 8).min(lines.len() - start);
    let how = rng.below(4);
    let n = rng.between(1, 4);
    for l in &mut lines[start..start + len] {
        let spaces = l.iter().take_while(|b| **b == b' ').count();
        let (remove, add): (usize, &[u8]) = match how {
            0 => (0, &[b' '; 4][..n]),
            1 => (spaces.min(n), &[]),
            2 => (0, b"\t"),
            _ => (0, &[b' '; 200]),
        };
        l.splice(0..remove, add.iter().copied());
    }
}

/// Where the value of a `key: value` or `- value` line starts.
fn value_start(line: &[u8]) -> Option<usize> {
    if let Some(i) = line.windows(2).position(|w| w == b": ") {
        return Some(i + 2);
    }
    let indent = line.iter().take_while(|b| **b == b' ').count();
    line[indent..].starts_with(b"- ").then_some(indent + 2)
}

fn line_end(line: &[u8]) -> usize {
    line.iter().position(|b| *b == b'\n').unwrap_or(line.len())
}

/// Where the value starting at `at` ends: at the end of the line, or in a
/// flow collection (`{host: 8001, container: 8080}`) at the next `,` or bracket.
fn value_end(line: &[u8], at: usize) -> usize {
    let end = line_end(line).max(at);
    if !line[..at].iter().any(|b| matches!(b, b'{' | b'[')) {
        return end;
    }
    line[at..end]
        .iter()
        .position(|b| matches!(b, b',' | b'}' | b']'))
        .map_or(end, |i| at + i)
}

/// A line that has a value, and where it starts.
fn line_with_value(rng: &mut Rng, lines: &[Vec<u8>]) -> Option<(usize, usize)> {
    for _ in 0..8 {
        let i = rng.below(lines.len());
        if let Some(at) = value_start(&lines[i]) {
            return Some((i, at));
        }
    }
    None
}

fn scalar(rng: &mut Rng) -> Vec<u8> {
    match rng.below(6) {
        0 => "a".repeat(rng.skewed(200_000)).into_bytes(),
        1 => "é日\u{1F600}".repeat(rng.skewed(5_000)).into_bytes(),
        2 => {
            let digits = rng.skewed(5_000).max(1);
            let sign = if rng.chance(1, 2) { "-" } else { "" };
            format!("{sign}{}", "9".repeat(digits)).into_bytes()
        }
        3 => (0..rng.skewed(64)).map(|_| rng.below(32) as u8).collect(),
        _ => rng.pick(VALUES).as_bytes().to_vec(),
    }
}

fn replace_scalar(rng: &mut Rng, lines: &mut [Vec<u8>]) {
    if let Some((i, at)) = line_with_value(rng, lines) {
        let end = value_end(&lines[i], at);
        let old = &lines[i][at..end];
        let value = if rng.chance(3, 4) {
            let number = !old.is_empty() && old.iter().all(u8::is_ascii_digit);
            let table = if number { NUMBERS } else { WORDS };
            rng.pick(table).as_bytes().to_vec()
        } else {
            scalar(rng)
        };
        lines[i].splice(at..end, value);
    }
}

fn replace_key(rng: &mut Rng, lines: &mut [Vec<u8>]) {
    let i = rng.below(lines.len());
    let l = &mut lines[i];
    let indent = l.iter().take_while(|b| **b == b' ' || **b == b'-').count();
    if let Some(colon) = l[indent..].iter().position(|b| *b == b':') {
        l.splice(indent..indent + colon, rng.pick(KEYS).bytes());
    }
}

fn anchors_and_aliases(rng: &mut Rng, lines: &mut Vec<Vec<u8>>) {
    let name = format!("a{}", rng.below(4));
    match rng.below(5) {
        // An anchor on one value, an alias to it as another.
        0 | 1 => {
            if let Some((i, at)) = line_with_value(rng, lines) {
                lines[i].splice(at..at, format!("&{name} ").into_bytes());
            }
            if let Some((j, at)) = line_with_value(rng, lines) {
                let end = value_end(&lines[j], at);
                lines[j].splice(at..end, format!("*{name}").into_bytes());
            }
        }
        // A merge key.
        2 => {
            let i = rng.below(lines.len());
            let indent = lines[i].iter().take_while(|b| **b == b' ').count();
            let merge = if rng.chance(1, 2) {
                format!("<<: *{name}\n")
            } else {
                format!("<<: [*{name}, *a9]\n")
            };
            lines.insert(
                i,
                [" ".repeat(indent).into_bytes(), merge.into_bytes()].concat(),
            );
        }
        // A laughs-style chain of aliases.
        3 => {
            let mut text = String::from("  l0: &l0 [x, x, x, x, x, x, x, x]\n");
            for k in 1..rng.between(2, 12) {
                let refs = vec![format!("*l{}", k - 1); 8].join(", ");
                text.push_str(&format!("  l{k}: &l{k} [{refs}]\n"));
            }
            let i = rng.below(lines.len() + 1);
            lines.insert(i.min(lines.len()), text.into_bytes());
        }
        // An alias to an anchor that is not there, or to itself.
        _ => {
            if let Some((i, at)) = line_with_value(rng, lines) {
                let end = line_end(&lines[i]);
                let alias = if rng.chance(1, 2) {
                    "*nowhere".to_string()
                } else {
                    format!("&{name} [*{name}]")
                };
                lines[i].splice(at..end.max(at), alias.into_bytes());
            }
        }
    }
}

fn tag(rng: &mut Rng, lines: &mut [Vec<u8>]) {
    if let Some((i, at)) = line_with_value(rng, lines) {
        lines[i].splice(at..at, rng.pick(TAGS).bytes());
    }
}

fn deep_nesting(rng: &mut Rng, lines: &mut [Vec<u8>]) {
    let depth = rng.skewed(10_000).max(1);
    let nested = match rng.below(3) {
        0 => format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("{}x{}", "{a: ".repeat(depth), "}".repeat(depth)),
        _ => {
            let depth = depth.min(2_000);
            let mut block = String::from("\n");
            for d in 1..=depth {
                block.push_str(&format!("{}k{d}:\n", " ".repeat(d)));
            }
            block
        }
    };
    if let Some((i, at)) = line_with_value(rng, lines) {
        let end = line_end(&lines[i]);
        lines[i].splice(at..end.max(at), nested.into_bytes());
    }
}

fn truncate(rng: &mut Rng, input: &mut Vec<u8>) {
    let at = rng.below(input.len() + 1);
    input.truncate(at);
}

fn separators(rng: &mut Rng, lines: &mut Vec<Vec<u8>>) {
    let i = rng.below(lines.len() + 1);
    let sep = rng.pick(SEPARATORS).as_bytes().to_vec();
    let times = if rng.chance(1, 20) {
        rng.skewed(2_000)
    } else {
        1
    };
    for _ in 0..times {
        lines.insert(i.min(lines.len()), sep.clone());
    }
}

fn bom(rng: &mut Rng, input: &mut Vec<u8>) {
    let at = if rng.chance(2, 3) {
        0
    } else {
        rng.below(input.len() + 1)
    };
    input.splice(at..at, rng.pick(BOMS).iter().copied());
}

fn flip_bytes(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..rng.between(1, 8) {
        if input.is_empty() {
            input.push(rng.next_u64() as u8);
            continue;
        }
        let i = rng.below(input.len());
        match rng.below(3) {
            0 => input[i] ^= 1 << rng.below(8),
            1 => input.insert(i, rng.next_u64() as u8),
            _ => {
                input.remove(i);
            }
        }
    }
}

fn splice(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Seed]) {
    let other = &rng.pick(seeds).bytes;
    let from = rng.below(other.len() + 1);
    let len = rng.skewed(other.len() - from);
    let at = rng.below(input.len() + 1);
    input.splice(at..at, other[from..from + len].iter().copied());
}

fn control_characters(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..rng.between(1, 4) {
        let at = rng.below(input.len() + 1);
        input.splice(at..at, rng.pick(CONTROLS).bytes());
    }
}

fn block_scalar(rng: &mut Rng, lines: &mut [Vec<u8>]) {
    if let Some((i, at)) = line_with_value(rng, lines) {
        let end = line_end(&lines[i]);
        let body = format!(
            "{}\n{}text\n{}more\n",
            rng.pick(HEADERS),
            " ".repeat(rng.below(12)),
            " ".repeat(rng.below(12))
        );
        lines[i].splice(at..(end + 1).min(lines[i].len()).max(at), body.into_bytes());
    }
}

fn quoted_escapes(rng: &mut Rng, lines: &mut [Vec<u8>]) {
    if let Some((i, at)) = line_with_value(rng, lines) {
        let end = line_end(&lines[i]);
        let value: String = (0..rng.between(1, 6)).map(|_| *rng.pick(ESCAPES)).collect();
        let quoted = if rng.chance(3, 4) {
            format!("\"{value}\"")
        } else {
            format!("'{value}'")
        };
        lines[i].splice(at..end.max(at), quoted.into_bytes());
    }
}

/// Replaces a value with a flow collection, or a line with a complex key.
fn flow_style(rng: &mut Rng, lines: &mut Vec<Vec<u8>>) {
    match rng.below(3) {
        0 => {
            if let Some((i, at)) = line_with_value(rng, lines) {
                let end = line_end(&lines[i]);
                let flow = format!(
                    "{{name: {}, from: 1, to: {}}}",
                    rng.pick(VALUES),
                    rng.pick(VALUES)
                );
                lines[i].splice(at..end.max(at), flow.into_bytes());
            }
        }
        1 => {
            let i = rng.below(lines.len() + 1);
            lines.insert(i.min(lines.len()), b"? [a, b]\n: c\n".to_vec());
        }
        _ => {
            let i = rng.below(lines.len() + 1);
            lines.insert(i.min(lines.len()), b": no key\n".to_vec());
        }
    }
}
