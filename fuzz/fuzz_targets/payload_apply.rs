//! `PayloadRules::apply` on arbitrary bodies: never panics; a rejected body is
//! left untouched; valid JSON in gives valid JSON out.
#![no_main]

use std::sync::OnceLock;

use cliproxy::payload::{PayloadCtx, PayloadRules};
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
payload:
  default:
    - models: [{name: "*"}]
      params: {"a.b.c": 1, "x.0": [1, 2], "list.-1": "end"}
  override:
    - models: [{name: "*", exist: ["a"], not-match: [{"k": 1}]}]
      params: {"a.b": {"d": null}, 'tools.#(type=="t").on': true, "0.1": 2}
  override-raw:
    - models: [{name: "*"}]
      params: {"r": '{"q": [true]}'}
  filter:
    - models: [{name: "*"}]
      params: ["a.b.d", 'tools.#(type=="u")#', "c"]
"#;

fn rules() -> &'static PayloadRules {
    static RULES: OnceLock<PayloadRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let (raw, _) = cliproxy::config::parse_raw(CONFIG).expect("fixed config parses");
        PayloadRules::compile(&raw.payload).0
    })
}

fuzz_target!(|data: &[u8]| {
    // First byte splits the input into (original, body).
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = (split as usize).min(rest.len());
    let (original, body) = rest.split_at(cut);
    let ctx = PayloadCtx {
        upstream_model: "m",
        ..PayloadCtx::default()
    };
    let mut b = body.to_vec();
    let valid = serde_json::from_slice::<serde_json::Value>(body).is_ok();
    match rules().apply(&ctx, original, &mut b) {
        Ok(_) => {
            if valid {
                assert!(serde_json::from_slice::<serde_json::Value>(&b).is_ok());
            }
        }
        Err(_) => {
            assert_eq!(b, body);
            assert!(!valid);
        }
    }
});
