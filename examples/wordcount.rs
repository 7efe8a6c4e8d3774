//! The stateless half of word count: lines in, one record per word out,
//! keyed by the word (the shape a `group_by(..).count()` will consume).
//!
//! ```text
//! cargo run --example wordcount -- --bootstrap-servers 127.0.0.1:9092
//! ```
//! Reads `text-lines` (null or ignored keys, UTF-8 lines), writes `words`
//! (key: word, value: word) — and `long-words` for words of 8+ letters.

use weir::prelude::*;

/// Lines to lowercase words at least `min_len` long, keyed by the word.
#[weir::topology]
pub fn word_split(min_len: usize) -> impl Topology {
    let builder = StreamsBuilder::new();
    let words = builder
        .stream::<(), String>("text-lines")
        .flat_map_values(|line| {
            line.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .filter(move |_, word| word.chars().count() >= min_len)
        .select_key(|_, word| word.clone());
    words.to("words");
    words
        .filter(|_, word| word.chars().count() >= 8)
        .to("long-words");
    builder.build()
}

fn main() -> std::process::ExitCode {
    weir::run_app(
        "wordcount",
        "Splits `text-lines` into words: writes `words` (and `long-words`), keyed by word.",
        word_split(2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lowercases_and_keys_by_word() {
        let driver = TopologyTestDriver::new(word_split(2));
        let lines = driver.create_input_topic::<(), String>("text-lines");
        let words = driver.create_output_topic::<String, String>("words");
        let long = driver.create_output_topic::<String, String>("long-words");
        lines.pipe_value("A streaming, Streaming world!".to_string());
        assert_eq!(
            words.read_key_values_to_list(),
            [
                ("streaming", "streaming"),
                ("streaming", "streaming"),
                ("world", "world")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(long.queue_size(), 2);
    }
}
