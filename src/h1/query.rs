//! Query strings: one parameter's raw value, and `%XX` / `+` decoding.

/// Decodes `%XX` and `+` in a query value into `out`.
pub fn percent_decode(v: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'%' if i + 2 < v.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(v[i + 1]), hex(v[i + 2])) {
                    (Some(a), Some(b)) => {
                        out.push((a * 16 + b) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
}

/// The raw value of query parameter `name`, if present.
pub fn query_param<'a>(query: &'a [u8], name: &str) -> Option<&'a [u8]> {
    query.split(|&c| c == b'&').find_map(|pair| {
        let (k, v) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        (k == name.as_bytes()).then_some(v)
    })
}
