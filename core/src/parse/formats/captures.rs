//! The capture groups of a pattern in a line, for the `grok` and `regex`
//! formats: [`Captures`] gives the regex crate's answer, most of the time
//! without the regex crate's capture engine.
//!
//! The regex crate finds captures with a backtracker or a PikeVM, which
//! costs many times its DFA search per byte. Most grok and log patterns are
//! a sequence of captured fields and literal text (`^%{IP:client}
//! %{USER:ident} \[%{HTTPDATE:ts}\] ...`), and such a sequence can be matched
//! one element at a time ([`Steps`]): each element takes the end its own highest-priority match
//! gives, found by a byte-class scan (`\S+`, `[^"]*`, `.*`), a literal search
//! (a lazy `.*?` before literal text, or the last place a greedy run can
//! give back for the text after it) or the element's own lazy DFA.
//!
//! Why that is the regex's answer: the regex crate's captures are those of
//! the highest-priority path (leftmost-first, as in Perl) starting where the
//! leftmost match starts. Paths through a concatenation are ordered by their
//! first element's choice, then the next one's. An element's own
//! highest-priority match is the best choice any full path can make for it,
//! so when every element's best choice leaves a match for the rest, that
//! path is the regex's. When one does not (a lazy `DATA` whose first
//! candidate leads nowhere, a greedy `.*` that ate the text after it), the
//! regex would try a lower-priority choice: [`Steps::walk`] then answers
//! `false` and the caller asks the regex, so every line gets the regex's
//! captures, most of them without its capture engine.

use crate::parse::row::Failure;
use regex::{CaptureLocations, Regex};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// A pattern and the spans of its groups in the line last searched.
#[derive(Debug)]
pub(crate) struct Captures {
    regex: Regex,
    steps: Option<Steps>,
    locations: CaptureLocations,
    spans: Vec<Option<(usize, usize)>>,
}

impl Captures {
    /// `pattern` as the regex crate reads it with `.` matching line ends
    /// when `dot_all` (multi-line records); `regex` is that regex, built.
    pub(crate) fn new(regex: Regex, dot_all: bool) -> Captures {
        let syntax = regex_automata::util::syntax::Config::new().dot_matches_new_line(dot_all);
        // The regex parsed its pattern with these settings, so this parse cannot fail.
        let steps = regex_automata::util::syntax::parse_with(regex.as_str(), &syntax).ok().and_then(|hir| Steps::compile(&hir));
        let locations = regex.capture_locations();
        let spans = vec![None; regex.captures_len()];
        Captures { regex, steps, locations, spans }
    }

    /// Searches a line; `Ok(false)` when it does not match, an error when it
    /// is not UTF-8. Then [`Self::span`] gives each group's span, as
    /// `Regex::captures` would. The lines come cut before any invalid byte;
    /// a check at SIMD speed keeps that from being an assumption, std's says where.
    #[inline(always)]
    pub(crate) fn search(&mut self, line: &[u8]) -> Result<bool, Failure> {
        let text = match simdutf8::basic::from_utf8(line) {
            Ok(text) => text,
            Err(_) => std::str::from_utf8(line).map_err(|e| Failure::new("line", e.valid_up_to(), "invalid UTF-8"))?,
        };
        Ok(self.search_text(text))
    }

    #[inline(always)]
    fn search_text(&mut self, text: &str) -> bool {
        if let Some(steps) = &mut self.steps {
            let start = if steps.start_anchored() {
                0
            } else {
                match self.regex.find(text) {
                    Some(found) => found.start(),
                    None => return false,
                }
            };
            if steps.walk(text.as_bytes(), start, &mut self.spans) {
                // Under cargo-fuzz every walked line is checked against the
                // regex, so the grok and parse targets test the walk too.
                #[cfg(fuzzing)]
                {
                    self.regex.captures_read(&mut self.locations, text).expect("the walk matched, so the regex matches");
                    for (group, span) in self.spans.iter().enumerate() {
                        assert_eq!(*span, self.locations.get(group), "group {group} of {:?} in {text:?}", self.regex.as_str());
                    }
                }
                return true;
            }
        }
        if self.regex.captures_read(&mut self.locations, text).is_none() {
            return false;
        }
        for (group, span) in self.spans.iter_mut().enumerate() {
            *span = self.locations.get(group);
        }
        true
    }

    /// The span of group `group` in the text last searched, if it took part.
    #[inline]
    pub(crate) fn span(&self, group: usize) -> Option<(usize, usize)> {
        self.spans[group]
    }

    /// Whether the pattern is walked (for tests).
    #[cfg(test)]
    pub(crate) fn walks(&self) -> bool {
        self.steps.is_some()
    }
}

/// What one byte does to a run of a character class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ByteRole {
    /// The byte's character is in the class.
    Take,
    /// The byte's character is not: the run ends before it.
    Stop,
    /// The first byte of a character the table cannot answer for (a class
    /// holding some non-ASCII characters): the step gives up on the line.
    Ask,
}

/// A greedy or lazy repetition of one character class (`\S+`, `[^"]*`,
/// `.*?`, `[0-9]{3}`), run over bytes with a table.
#[derive(Debug)]
struct Run {
    roles: Box<[ByteRole; 256]>,
    min: usize,
    max: Option<usize>,
    greedy: bool,
    /// The bytes that end the run when there are at most three and no byte
    /// is [`ByteRole::Ask`]: the run is then a `memchr`.
    stops: Option<Vec<u8>>,
    /// The class's own DFA (and its cache's index) for a greedy run that
    /// meets a byte the table cannot answer for.
    dfa: Option<Box<(DFA, usize)>>,
    /// The literal after a greedy run when the run takes its first byte, so
    /// that the run may have to give back what follows its last occurrence.
    gives_back_to: Option<Box<[u8]>>,
    /// Bytes `lo..=hi` (ASCII), all taken, when the range is wide enough
    /// for a run to be read eight bytes at a time (`\S`: `!` to DEL).
    wide: Option<(u8, u8)>,
}

/// The widest range of ASCII bytes a table takes, if it is wide enough to
/// be worth reading eight bytes at once.
fn wide_range(roles: &[ByteRole; 256]) -> Option<(u8, u8)> {
    let mut best: Option<(u8, u8)> = None;
    let mut from = None;
    for byte in 1..=128u16 {
        let taken = byte < 128 && roles[byte as usize] == ByteRole::Take;
        match (taken, from) {
            (true, None) => from = Some(byte as u8),
            (false, Some(lo)) => {
                let hi = byte as u8 - 1;
                if best.is_none_or(|(a, b)| hi - lo > b - a) {
                    best = Some((lo, hi));
                }
                from = None;
            }
            _ => {}
        }
    }
    best.filter(|&(lo, hi)| hi - lo >= 32)
}

/// Whether any of the eight bytes of `word` is outside `lo..=hi` (`lo` at
/// least 1, `hi` at most 127), exactly: the classic SWAR tests for a byte
/// below `lo` or above `hi`.
#[inline(always)]
fn any_outside(word: u64, lo: u8, hi: u8) -> bool {
    const ONES: u64 = u64::MAX / 255;
    const HIGHS: u64 = ONES * 0x80;
    let below = word.wrapping_sub(ONES * lo as u64) & !word & HIGHS;
    let above = (word.wrapping_add(ONES * (127 - hi) as u64) | word) & HIGHS;
    below | above != 0
}

#[derive(Debug)]
enum Matcher {
    Literal(Box<[u8]>),
    Run(Run),
    /// Anything else without captures, by its own lazy DFA; `cache` indexes
    /// [`Steps::caches`].
    Dfa {
        dfa: Box<DFA>,
        cache: usize,
    },
    /// Alternatives, each a literal or a greedy run: the first that matches
    /// wins (the regex's order); the element's DFA for a byte a run's table
    /// cannot answer for.
    Either {
        options: Vec<Choice>,
        dfa: Box<DFA>,
        cache: usize,
    },
}

#[derive(Debug)]
enum Choice {
    Literal(Box<[u8]>),
    Run(Run),
}

#[derive(Debug)]
struct Step {
    matcher: Matcher,
    /// The capture group this step is, if it is one.
    group: Option<usize>,
}

/// A pattern's top level as steps; `None` from [`Steps::compile`] when the
/// top level is not a sequence of elements of which only whole ones capture.
#[derive(Debug)]
struct Steps {
    start_anchored: bool,
    end_anchored: bool,
    steps: Vec<Step>,
    caches: Vec<Cache>,
}

/// A lazy DFA of one element, leftmost-first, for anchored searches; `None`
/// for what a DFA cannot do (the regex crate does it then). A `\b` is
/// Unicode-aware: the DFA stops at the first non-ASCII byte, and the line
/// goes to the regex.
fn element_dfa(hir: &Hir) -> Option<DFA> {
    let nfa = thompson::Compiler::new()
        .configure(thompson::Config::new().which_captures(thompson::WhichCaptures::None).nfa_size_limit(Some(64 << 20)))
        .build_from_hir(hir)
        .ok()?;
    DFA::builder()
        .configure(DFA::config().match_kind(MatchKind::LeftmostFirst).cache_capacity(1 << 20).unicode_word_boundary(true))
        .build_from_nfa(nfa)
        .ok()
}

/// The table of a class (or a one-byte literal), if its non-ASCII part is
/// all or nothing, or can be asked about per line.
fn byte_roles(hir: &Hir) -> Option<(Box<[ByteRole; 256]>, bool)> {
    let mut roles = Box::new([ByteRole::Stop; 256]);
    // Whether each repetition is one byte, so counts are byte counts.
    let mut byte_per_repeat = true;
    match hir.kind() {
        HirKind::Class(Class::Bytes(class)) => {
            for range in class.ranges() {
                for byte in range.start()..=range.end() {
                    roles[byte as usize] = ByteRole::Take;
                }
            }
        }
        HirKind::Class(Class::Unicode(class)) => {
            for range in class.ranges() {
                for c in range.start() as u32..=(range.end() as u32).min(0x7f) {
                    roles[c as usize] = ByteRole::Take;
                }
            }
            // Every character above ASCII, none of them, or some.
            let mut covered_to = 0x7f_u32;
            let mut some = false;
            for range in class.ranges().iter().filter(|r| r.end() as u32 > 0x7f) {
                some = true;
                let start = (range.start() as u32).max(0x80);
                let contiguous = start == covered_to + 1 || (covered_to == 0xd7ff && start == 0xe000);
                if contiguous {
                    covered_to = range.end() as u32;
                }
            }
            let non_ascii = if covered_to == 0x10ffff {
                byte_per_repeat = false;
                ByteRole::Take
            } else if some {
                ByteRole::Ask
            } else {
                ByteRole::Stop
            };
            for role in &mut roles[0x80..] {
                *role = non_ascii;
            }
        }
        HirKind::Literal(literal) if literal.0.len() == 1 => roles[literal.0[0] as usize] = ByteRole::Take,
        _ => return None,
    }
    Some((roles, byte_per_repeat))
}

/// A run of a class repeated (`rep`, the element `hir`): `None` when the
/// class is not one a table can hold. A greedy run that may meet a byte the
/// table cannot answer for gets the element's DFA when `own_dfa`.
fn run(hir: &Hir, caches: &mut usize, own_dfa: bool) -> Option<Run> {
    let HirKind::Repetition(rep) = hir.kind() else { return None };
    let (roles, byte_per_repeat) = byte_roles(&rep.sub)?;
    let (min, max) = (rep.min as usize, rep.max.map(|m| m as usize));
    // A class holding every non-ASCII character counts characters, not
    // bytes: a table scan can keep only "at least one".
    if !(byte_per_repeat || (min <= 1 && max.is_none())) {
        return None;
    }
    let stop_bytes: Vec<u8> = (0..=255u8).filter(|&b| roles[b as usize] == ByteRole::Stop).collect();
    let asks = roles.contains(&ByteRole::Ask);
    let stops = (!asks && stop_bytes.len() <= 3 && max.is_none()).then_some(stop_bytes);
    let dfa = match asks && rep.greedy && own_dfa {
        true => {
            let dfa = element_dfa(hir)?;
            *caches += 1;
            Some(Box::new((dfa, *caches - 1)))
        }
        false => None,
    };
    let wide = wide_range(&roles);
    Some(Run { roles, min, max, greedy: rep.greedy, stops, dfa, gives_back_to: None, wide })
}

fn matcher(hir: &Hir, caches: &mut usize) -> Option<Matcher> {
    match hir.kind() {
        HirKind::Literal(literal) => return Some(Matcher::Literal(literal.0.clone())),
        HirKind::Repetition(_) => {
            if let Some(run) = run(hir, caches, true) {
                return Some(Matcher::Run(run));
            }
        }
        HirKind::Alternation(alternatives) => {
            // `[0-9]+|-`: alternatives of literals and greedy runs, tried in order.
            let options: Option<Vec<Choice>> = alternatives
                .iter()
                .map(|alternative| match alternative.kind() {
                    HirKind::Literal(literal) => Some(Choice::Literal(literal.0.clone())),
                    _ => run(alternative, caches, false).filter(|r| r.greedy).map(Choice::Run),
                })
                .collect();
            if let Some(options) = options {
                let dfa = element_dfa(hir)?;
                *caches += 1;
                return Some(Matcher::Either { options, dfa: Box::new(dfa), cache: *caches - 1 });
            }
        }
        _ => {}
    }
    let dfa = element_dfa(hir)?;
    *caches += 1;
    Some(Matcher::Dfa { dfa: Box::new(dfa), cache: *caches - 1 })
}

impl Steps {
    /// The steps of `hir` (the expanded pattern, parsed as the regex crate
    /// parses it), or `None` when its top level cannot be walked.
    fn compile(hir: &Hir) -> Option<Steps> {
        let mut items: Vec<&Hir> = match hir.kind() {
            HirKind::Concat(items) => items.iter().collect(),
            _ => vec![hir],
        };
        let start_anchored = matches!(items.first().map(|h| h.kind()), Some(HirKind::Look(Look::Start)));
        if start_anchored {
            items.remove(0);
        }
        let end_anchored = matches!(items.last().map(|h| h.kind()), Some(HirKind::Look(Look::End)));
        if end_anchored {
            items.pop();
        }
        let mut steps = Vec::with_capacity(items.len());
        let mut caches = 0;
        for item in items {
            let step = match item.kind() {
                HirKind::Capture(capture) if capture.sub.properties().explicit_captures_len() == 0 => {
                    Step { matcher: matcher(&capture.sub, &mut caches)?, group: Some(capture.index as usize) }
                }
                _ if item.properties().explicit_captures_len() == 0 => Step { matcher: matcher(item, &mut caches)?, group: None },
                // Captures inside an alternation or a repetition: which of
                // them take part is the capture engine's to say.
                _ => return None,
            };
            steps.push(step);
        }
        // A lazy run ends where the literal after it is first found, or at
        // the end of an anchored pattern; anywhere else it goes to its DFA.
        for i in 0..steps.len() {
            let lazy = matches!(&steps[i].matcher, Matcher::Run(run) if !run.greedy);
            let literal_next = matches!(steps.get(i + 1).map(|s| &s.matcher), Some(Matcher::Literal(l)) if !l.is_empty());
            let runs_to_end = i + 1 == steps.len() && end_anchored;
            let bounded = matches!(&steps[i].matcher, Matcher::Run(run) if run.max.is_some());
            if lazy && (bounded || !(literal_next || runs_to_end)) {
                return None;
            }
        }
        for i in 0..steps.len().saturating_sub(1) {
            let next = match &steps[i + 1].matcher {
                Matcher::Literal(literal) if !literal.is_empty() => literal.clone(),
                _ => continue,
            };
            if let Matcher::Run(run) = &mut steps[i].matcher {
                if run.greedy && run.roles[next[0] as usize] == ByteRole::Take {
                    run.gives_back_to = Some(next);
                }
            }
        }
        let mut dfas: Vec<(usize, &DFA)> = steps
            .iter()
            .filter_map(|s| match &s.matcher {
                Matcher::Dfa { dfa, cache } | Matcher::Either { dfa, cache, .. } => Some((*cache, &**dfa)),
                Matcher::Run(Run { dfa: Some(dfa), .. }) => Some((dfa.1, &dfa.0)),
                _ => None,
            })
            .collect();
        dfas.sort_by_key(|(cache, _)| *cache);
        let caches = dfas.iter().map(|(_, dfa)| dfa.create_cache()).collect();
        Some(Steps { start_anchored, end_anchored, steps, caches })
    }

    /// Whether the regex's match must start where the line does; if not, the
    /// caller finds the leftmost match's start and walks from there.
    fn start_anchored(&self) -> bool {
        self.start_anchored
    }

    /// Walks `hay` from `start`, the leftmost match's start, writing each
    /// capture step's span into `spans` (by group index; group 0 is the whole
    /// match). `false` when a step's best choice leaves the rest without a
    /// match: the spans are then unspecified and the caller asks the regex.
    fn walk(&mut self, hay: &[u8], start: usize, spans: &mut [Option<(usize, usize)>]) -> bool {
        spans.iter_mut().for_each(|s| *s = None);
        let mut at = start;
        for (i, step) in self.steps.iter().enumerate() {
            let end = match &step.matcher {
                Matcher::Literal(literal) => {
                    if !crate::bytes::has_at(hay, at, literal) {
                        return false;
                    }
                    at + literal.len()
                }
                Matcher::Run(run) if run.greedy => match run.greedy_end(hay, at) {
                    // A run that took the text after it gives back all after
                    // its last occurrence, as the regex's next choices would.
                    Ok(Some(end)) => match &run.gives_back_to {
                        Some(next) => {
                            let from = at + run.min;
                            let to = (end + next.len()).min(hay.len());
                            match memchr::memmem::rfind(&hay[from..to], next) {
                                Some(found) => from + found,
                                None => return false,
                            }
                        }
                        None => end,
                    },
                    Ok(None) => return false,
                    Err(()) => match run.dfa.as_deref() {
                        Some((dfa, cache)) => match search(dfa, &mut self.caches[*cache], hay, at) {
                            Some(end) => end,
                            None => return false,
                        },
                        None => return false,
                    },
                },
                Matcher::Run(run) => {
                    let next: &[u8] = match self.steps.get(i + 1).map(|s| &s.matcher) {
                        Some(Matcher::Literal(literal)) => literal,
                        _ => b"",
                    };
                    match run.lazy_end(hay, at, next) {
                        Some(end) => end,
                        None => return false,
                    }
                }
                Matcher::Either { options, dfa, cache } => {
                    let mut chosen = None;
                    for option in options {
                        match option {
                            Choice::Literal(literal) => {
                                if crate::bytes::has_at(hay, at, literal) {
                                    chosen = Some(at + literal.len());
                                    break;
                                }
                            }
                            Choice::Run(run) => match run.greedy_end(hay, at) {
                                Ok(Some(end)) => {
                                    chosen = Some(end);
                                    break;
                                }
                                Ok(None) => {}
                                Err(()) => {
                                    chosen = search(dfa, &mut self.caches[*cache], hay, at);
                                    break;
                                }
                            },
                        }
                    }
                    match chosen {
                        Some(end) => end,
                        None => return false,
                    }
                }
                Matcher::Dfa { dfa, cache } => match search(dfa, &mut self.caches[*cache], hay, at) {
                    Some(end) => end,
                    None => return false,
                },
            };
            if let Some(group) = step.group {
                spans[group] = Some((at, end));
            }
            at = end;
        }
        if self.end_anchored && at != hay.len() {
            return false;
        }
        spans[0] = Some((start, at));
        true
    }
}

/// The end of the highest-priority match of an element's DFA at `at`.
#[inline]
fn search(dfa: &DFA, cache: &mut Cache, hay: &[u8], at: usize) -> Option<usize> {
    let input = Input::new(hay).range(at..).anchored(Anchored::Yes);
    dfa.try_search_fwd(cache, &input).ok()?.map(|found| found.offset())
}

impl Run {
    /// The end of the longest run from `at` (at most `max`), if it is at
    /// least `min` long; `Err` at a byte the table cannot answer for.
    #[inline(always)]
    fn greedy_end(&self, hay: &[u8], at: usize) -> std::result::Result<Option<usize>, ()> {
        let rest = &hay[at..];
        let len = match &self.stops {
            Some(stops) => match stops.as_slice() {
                [] => rest.len(),
                [a] => memchr::memchr(*a, rest).unwrap_or(rest.len()),
                [a, b] => memchr::memchr2(*a, *b, rest).unwrap_or(rest.len()),
                [a, b, c] => memchr::memchr3(*a, *b, *c, rest).unwrap_or(rest.len()),
                _ => unreachable!("at most three stop bytes"),
            },
            None => {
                let limit = self.max.map_or(rest.len(), |m| m.min(rest.len()));
                let mut len = 0;
                if let Some((lo, hi)) = self.wide {
                    while len + 8 <= limit {
                        let word = u64::from_le_bytes(rest[len..len + 8].try_into().expect("8 bytes"));
                        if any_outside(word, lo, hi) {
                            break;
                        }
                        len += 8;
                    }
                }
                while len < limit {
                    match self.roles[rest[len] as usize] {
                        ByteRole::Take => len += 1,
                        ByteRole::Stop => break,
                        ByteRole::Ask => return Err(()),
                    }
                }
                len
            }
        };
        Ok((len >= self.min).then_some(at + len))
    }

    /// The end of the shortest run from `at` (at least `min` long) that
    /// `next` follows, or of the whole rest when `next` is empty (the run
    /// ends an anchored pattern).
    fn lazy_end(&self, hay: &[u8], at: usize, next: &[u8]) -> Option<usize> {
        let end = if next.is_empty() {
            hay.len()
        } else {
            let from = at.checked_add(self.min).filter(|&f| f <= hay.len())?;
            from + memchr::memmem::find(&hay[from..], next)?
        };
        let taken = hay[at..end].iter().all(|&b| self.roles[b as usize] == ByteRole::Take);
        // Characters, not bytes, when non-ASCII ones are taken: `min` is then
        // at most one, which any non-empty run has.
        (taken && end - at >= self.min).then_some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn hir(pattern: &str) -> Hir {
        regex_automata::util::syntax::parse(pattern).unwrap()
    }

    /// Spans of the walk, or `None` when it hands the line to the regex.
    fn walked(steps: &mut Steps, regex: &Regex, line: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let start = if steps.start_anchored() { 0 } else { regex.find(line)?.start() };
        let mut spans = vec![None; regex.captures_len()];
        steps.walk(line.as_bytes(), start, &mut spans).then_some(spans)
    }

    fn regex_spans(regex: &Regex, line: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let caps = regex.captures(line)?;
        Some((0..regex.captures_len()).map(|i| caps.get(i).map(|m| (m.start(), m.end()))).collect())
    }

    #[test]
    fn any_outside_is_exact() {
        for (lo, hi) in [(0x21, 0x7f), (1, 127), (b'0', b'9'), (b' ', b'~')] {
            for byte in 0..=255u8 {
                for at in [0, 3, 7] {
                    let mut word = [lo; 8];
                    word[at] = byte;
                    let outside = !(lo..=hi).contains(&byte);
                    assert_eq!(any_outside(u64::from_le_bytes(word), lo, hi), outside, "{lo}..={hi}, byte {byte} at {at}");
                }
            }
        }
    }

    #[test]
    fn the_top_level_decides_whether_a_pattern_is_walked() {
        for (pattern, walked) in [
            (r#"^(?P<a>\S+) (?P<b>[^"]*) "(?P<c>.*?)" (?P<d>[0-9]{3})$"#, true),
            (r"(?P<a>\b\w+\b):(?P<b>.*)", true),
            (r"^(?P<a>x|(?P<b>y))$", false),
            (r"^(?:(?P<a>\d+)|-) (?P<b>\S+)$", false),
            (r"^(?P<a>.*?)(?P<b>\d+)$", false),
        ] {
            assert_eq!(Steps::compile(&hir(pattern)).is_some(), walked, "{pattern}");
        }
    }

    /// The walk gives the regex's captures or hands the line over, on random
    /// patterns made of the kinds of element grok patterns are made of, and
    /// lines built from the same pattern: each element's value drawn from
    /// samples (many holding the literals around them, so elements compete
    /// for text), some lines then cut or grown by a random piece. It takes
    /// most lines that match.
    #[test]
    fn the_walk_gives_the_regexs_captures() {
        // (element, values that it or its neighbours may take)
        let elements: &[(&str, &[&str])] = &[
            (r"\S+", &["ab", "a-b", "é", "a\u{a0}b", "\"x\""]),
            (r"[^ ]+", &["ab", "a:b", "[x]"]),
            (r#"[^"]*"#, &["", "a b", "a \" b"]),
            (r"[0-9]{3}", &["200", "2000", "20"]),
            (r"[0-9]+|-", &["-", "17", "1-"]),
            (r"-|[a-z]*|x", &["-", "ab", "", "x-"]),
            (r"GET|POST|\S+", &["GET", "POST", "GETX", "é"]),
            (r"\d{1,3}", &["1", "1234", "٣"]),
            (r".*?", &["", "a b", "a - b", "x] y", "a, b"]),
            (r".*", &["", "a b", "a: b", "\" \""]),
            (r"\b\w+\b", &["ab", "a_b", "éa", "a b"]),
            (r"[a-z]+?", &["ab", "a", "ab ab"]),
            (r"(?:a|ab)", &["a", "ab", "abb"]),
            (r"\s*", &["", " ", "  ", "\u{a0}"]),
            (r"[A-Za-z0-9._-]+", &["a.b", "a b", "-"]),
            (r"(?:[0-9]{2}){1,2}", &["12", "1234", "123"]),
            (r"[+-]?[0-9]+", &["+1", "-12", "1+"]),
            (r"é+", &["é", "éé", "e"]),
            (r"[^\]]+", &["a b", "a]", "x"]),
            (r"\w+", &["a", "é_1", "a b"]),
        ];
        let literals = [" ", " - ", "[", "] ", "\"", "\" \"", ":", ", ", "=", "a"];
        let pieces = ["a", " ", "-", "\"", "]", ":", ", ", "é", "\u{a0}", "1"];
        let mut rng = StdRng::seed_from_u64(29);
        let mut pick = |n: usize| rng.random_range(0..n);
        let (mut taken, mut matched) = (0, 0);
        for _ in 0..600 {
            let mut parts: Vec<(Option<&str>, usize)> = Vec::new();
            let mut pattern = String::new();
            let start_anchored = pick(3) != 0;
            if start_anchored {
                pattern.push('^');
            }
            for i in 0..1 + pick(5) {
                if i > 0 || pick(4) == 0 {
                    let literal = literals[pick(literals.len())];
                    pattern.push_str(&regex::escape(literal));
                    parts.push((Some(literal), 0));
                }
                let element = pick(elements.len());
                parts.push((None, element));
                if pick(5) == 0 {
                    pattern.push_str(&format!("(?:{})", elements[element].0));
                } else {
                    pattern.push_str(&format!("(?P<f{i}>{})", elements[element].0));
                }
            }
            if pick(3) != 0 {
                pattern.push('$');
            }
            let regex = Regex::new(&pattern).unwrap();
            let Some(mut steps) = Steps::compile(&hir(&pattern)) else { continue };
            for _ in 0..60 {
                let mut line = String::new();
                if !start_anchored && pick(3) == 0 {
                    line.push_str(pieces[pick(pieces.len())]);
                }
                for (literal, element) in &parts {
                    match literal {
                        Some(literal) => line.push_str(literal),
                        None => {
                            let values = elements[*element].1;
                            line.push_str(values[pick(values.len())]);
                        }
                    }
                }
                match pick(6) {
                    0 => line.push_str(pieces[pick(pieces.len())]),
                    1 if !line.is_empty() => {
                        let at = pick(line.len());
                        if line.is_char_boundary(at) {
                            line.truncate(at);
                        }
                    }
                    _ => {}
                }
                let theirs = regex_spans(&regex, &line);
                matched += theirs.is_some() as usize;
                if let Some(ours) = walked(&mut steps, &regex, &line) {
                    taken += 1;
                    assert_eq!(Some(ours), theirs, "pattern {pattern:?}, line {line:?}");
                }
            }
        }
        assert!(taken * 4 > matched * 3, "the walk took {taken} of {matched} matching lines");
    }
}
